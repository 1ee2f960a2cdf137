"""Subcommands from modules: ``stackeye <command>`` and ``stackeye decide <subcommand>`` both list
module names; each module defines HELP, EPILOG (examples), configure(parser) and run(args)."""
from __future__ import annotations

import argparse
import importlib


def add_subcommands(parser: argparse.ArgumentParser, names: list[str], module_prefix: str, dest: str,
                    run_attr: str) -> None:
    """A subparser per name, configured by module ``module_prefix + name`` (dashes → underscores);
    the chosen one's ``run`` lands in ``args.<run_attr>``."""
    sub = parser.add_subparsers(dest=dest, metavar=dest.split("_")[-1].upper())
    for name in names:
        mod = importlib.import_module(module_prefix + name.replace("-", "_"))
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP, epilog=getattr(mod, "EPILOG", None),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.configure(p)
        p.set_defaults(**{run_attr: mod.run})
