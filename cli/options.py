"""Command-line flags generated from a config dataclass (one source of names, defaults and help)."""
from __future__ import annotations

import argparse
import dataclasses
import os

from stackeye.core import config as cfgmod


def add_config_flags(parser: argparse.ArgumentParser, cls, only: tuple[str, ...] | None = None) -> None:
    parser.add_argument("--config", metavar="FILE", default=os.environ.get("STACKEYE_CONFIG"),
                        help="TOML file with any of the settings below (keys as the flag names with _)")
    for f in dataclasses.fields(cls):
        if only is not None and f.name not in only:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        flag = "--" + f.name.replace("_", "-")
        help_ = f"{f.metadata.get('help', '')} (default: {default!r}; env STACKEYE_{f.name.upper()})"
        ftype = str(f.type)
        if ftype == "bool":
            parser.add_argument(flag, dest=f.name, default=None, action=argparse.BooleanOptionalAction, help=help_)
        elif ftype == "tuple":
            single = "--" + f.name.rstrip("s").replace("_", "-")
            parser.add_argument(single, dest=f.name, default=None, action="append", metavar="VALUE",
                                help=help_ + "; repeatable")
        else:
            metavar = f.metadata.get("metavar") or f.name.upper().split("_")[-1]
            parser.add_argument(flag, dest=f.name, default=None, metavar=metavar, help=help_)


def config_from_args(cls, args: argparse.Namespace):
    from stackeye.cli.errors import UsageError

    names = {f.name for f in dataclasses.fields(cls)}
    flags = {k: v for k, v in vars(args).items() if k in names and v is not None}
    try:
        return cfgmod.load(cls, file=args.config, flags=flags)
    except cfgmod.ConfigError as exc:
        raise UsageError(str(exc)) from None
