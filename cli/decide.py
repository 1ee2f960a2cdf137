"""``stackeye decide <what>``: the decisions the aggregates drive — one module per subcommand.

Each module ``stackeye.cli.decide_<name>`` defines HELP, EPILOG (examples), configure(parser) and
run(args) -> exit code, like the top-level commands, and is registered in SUBCOMMANDS (one line).
"""
from __future__ import annotations

import argparse

from stackeye.cli.subcommands import add_subcommands

HELP = "decisions from the aggregates: autoscale replicas, gateway routing; apply, backtest, simulate"
EPILOG = """examples:
  stackeye decide autoscale --policy policies.toml                 # desired replicas per service, and why
  stackeye decide routing --upstream checkout --format json          # weights, ejections, breakers
  stackeye decide <subcommand> --help                                # each one's options and examples
"""

# One line per subcommand: the module stackeye.cli.decide_<name>.
SUBCOMMANDS = [
    "autoscale",
    "routing",
    "backtest",
    "simulate",
    "apply",
    "drain",
]


def configure(parser: argparse.ArgumentParser) -> None:
    add_subcommands(parser, SUBCOMMANDS, "stackeye.cli.decide_", "decide_subcommand", "_decide_run")
    parser.set_defaults(_decide_parser=parser)


def run(args) -> int:
    if not getattr(args, "_decide_run", None):
        args._decide_parser.print_help()
        return 2
    return args._decide_run(args)
