"""Command-line flags generated from a config dataclass (one source of names, defaults and help).

Every setting gets ``--name-with-dashes`` (or the flag it declares): ``--x/--no-x`` for booleans,
a repeatable flag for lists, ``KEY=VALUE`` maps and [[tables]], and for sections the pair of flags
it declares (``--enable NAME`` / ``--disable NAME``). The values go to
:func:`stackeye.core.config.load` as given: it converts them and names the flag in its errors.
"""
from __future__ import annotations

import argparse
import os
import sys

from stackeye.core import config as cfg
from stackeye.core.config_sample import render_toml


def _help(s: cfg.Setting) -> str:
    if s.options.required:
        where = "required"
    elif s.kind == cfg.SECTIONS:
        where = ""
    else:
        shown = s.show(s.default())
        where = f"default: {shown if shown not in ('', (), {}) else 'none'}"
    extra = "; ".join(part for part in (where, f"env {s.env}" if s.env else "",
                                        "repeatable" if s.kind in (cfg.LIST, cfg.MAP, cfg.TABLES) else "") if part)
    return (s.help + (f" ({extra})" if extra else "")).replace("%", "%%")


def _on_off(s: cfg.Setting) -> tuple[str, str]:
    return f"_{s.name}_on", f"_{s.name}_off"


def add_config_flags(parser: argparse.ArgumentParser, cls, *, print_config: bool = True,
                     only: tuple[str, ...] | None = None) -> None:
    """``--config FILE``, ``--print-config`` and one flag per setting of ``cls`` (of those named in
    ``only``, when given: a command that reads a part of another command's settings)."""
    parser.add_argument("--config", metavar="FILE", default=os.environ.get("STACKEYE_CONFIG"),
                        help="TOML file with any of the settings below (keys: the flag names with _; "
                             "--print-config writes one); env STACKEYE_CONFIG")
    if print_config:
        parser.add_argument("--print-config", action="store_true",
                            help="print every setting as commented TOML (with the values of --config, STACKEYE_* "
                                 "and the flags) and exit")
    for s in cfg.settings(cls):
        if only is not None and s.name not in only:
            continue
        if s.kind == cfg.SECTIONS:
            noun = s.options.section_noun
            for flag, dest, verb in zip(s.options.toggle, _on_off(s), ("enable", "disable")):
                parser.add_argument(flag, dest=dest, action="append", metavar=noun.upper(),
                                    help=f"{verb} a {noun} ([{s.name}.<{noun}>] enabled = …); repeatable")
        elif s.kind == cfg.SCALAR and s.type is bool:
            parser.add_argument(s.flag, dest=s.name, default=None, action=argparse.BooleanOptionalAction, help=_help(s))
        elif s.kind in (cfg.LIST, cfg.MAP, cfg.TABLES):
            metavar = s.options.metavar or ("KEY=VALUE" if s.kind == cfg.MAP else s.metavar)
            parser.add_argument(s.flag, dest=s.name, default=None, action="append", metavar=metavar, help=_help(s))
        else:
            parser.add_argument(s.flag, dest=s.name, default=None, metavar=s.metavar, help=_help(s))


def flag_values(cls, args: argparse.Namespace) -> dict:
    """The settings given as flags, as :func:`stackeye.core.config.load` takes them."""
    ns, out = vars(args), {}
    for s in cfg.settings(cls):
        if s.kind == cfg.SECTIONS:
            sections: dict = {}
            for dest, enabled in zip(_on_off(s), (True, False)):
                for name in ns.get(dest) or ():
                    sections.setdefault(name, {})["enabled"] = enabled
            if sections:
                out[s.name] = sections
        elif ns.get(s.name) is not None:
            out[s.name] = ns[s.name]
    return out


def flags_argv(cls, args: argparse.Namespace, exclude: tuple[str, ...] = ()) -> list[str]:
    """The settings given as flags, as a command line again (for a service unit)."""
    ns, out = vars(args), []
    for s in cfg.settings(cls):
        if s.name in exclude:
            continue
        if s.kind == cfg.SECTIONS:
            for flag, dest in zip(s.options.toggle, _on_off(s)):
                for name in ns.get(dest) or ():
                    out += [flag, name]
            continue
        value = ns.get(s.name)
        if value is None:
            continue
        if isinstance(value, bool):
            out.append(s.flag if value else "--no-" + s.flag[2:])
        elif isinstance(value, list):
            for item in value:
                out += [s.flag, str(item)]
        else:
            out += [s.flag, str(value)]
    return out


def config_from_args(cls, args: argparse.Namespace):
    """Defaults < ``--config`` file < ``STACKEYE_*`` < flags; a bad value raises ConfigError (exit 2)."""
    return cfg.load(cls, file=args.config, flags=flag_values(cls, args))


def print_config(config, title: str) -> int:
    sys.stdout.write(render_toml(config, title))
    return 0
