"""``stackeye triggers <check|list|test>``: the trigger rules — one module per subcommand.

Each module ``stackeye.cli.triggers_<name>`` defines HELP, EPILOG, configure(parser) and run(args).
"""
from __future__ import annotations

from stackeye.cli.subcommands import add_subcommands

HELP = "trigger rules: validate a file, list their states, dry-run one"
EPILOG = """examples:
  stackeye triggers check triggers.toml             # exit 2 naming the rule and field of a bad file
  stackeye triggers list                            # the rules of the running stackeye and their active alerts
  stackeye triggers test checkout-errors --triggers triggers.toml --at -1h
"""

SUBCOMMANDS = [
    "check",
    "list",
    "test",
]


def configure(parser) -> None:
    add_subcommands(parser, SUBCOMMANDS, "stackeye.cli.triggers_", "triggers_subcommand", "_triggers_run")
    parser.set_defaults(_triggers_parser=parser)


def run(args) -> int:
    if not getattr(args, "_triggers_run", None):
        args._triggers_parser.print_help()
        return 2
    return args._triggers_run(args)
