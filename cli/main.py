"""The ``stackeye`` command: one module per subcommand, registered in COMMANDS."""
from __future__ import annotations

import argparse
import logging
import sys

from stackeye.cli.subcommands import add_subcommands
from stackeye.core.errors import Fatal
from stackeye.core.version import __version__

# One line per subcommand: the module stackeye.cli.<name> defines HELP, EPILOG (examples),
# configure(parser) and run(args) -> exit code.
COMMANDS = [
    "up",
    "sql",
    "migrate",
    "query",
    "demo-data",
    "agent",
    "collector",
    "writer",
    "decide",
    "triggers",
    "events",
    "issues",
    "tenants",
    "keys",
]

EPILOG = """examples:
  stackeye up                                   # everything in one process, data in ./stackeye-data
  stackeye sql "SELECT ServiceName, count() FROM otel_traces GROUP BY ServiceName"
  stackeye migrate --clickhouse chdb:///var/lib/stackeye/clickhouse
  stackeye <command> --help                     # each command's options and examples
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stackeye",
        description="Full-stack APM: OTLP in, ClickHouse out, views and decisions on top.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"stackeye {__version__}")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                        help="log verbosity (default: info)")
    add_subcommands(parser, COMMANDS, "stackeye.cli.", "command", "_run")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except Fatal as exc:  # bad config, missing package, refused password…: retrying cannot fix it
        print(f"stackeye {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
