"""``stackeye decide <what>``: the decisions the aggregates drive — one module per subcommand.

Each module ``stackeye.cli.decide_<name>`` defines HELP, EPILOG (examples), configure(parser) and
run(args) -> exit code, like the top-level commands, and is registered in SUBCOMMANDS (one line).
"""
from __future__ import annotations

import argparse
import importlib

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
]


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="decide_command", metavar="SUBCOMMAND")
    for name in SUBCOMMANDS:
        mod = importlib.import_module(f"stackeye.cli.decide_{name}")
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP, epilog=getattr(mod, "EPILOG", None),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.configure(p)
        p.set_defaults(_decide_run=mod.run)
    parser.set_defaults(_decide_parser=parser)


def run(args) -> int:
    if not getattr(args, "_decide_run", None):
        args._decide_parser.print_help()
        return 2
    return args._decide_run(args)
