"""The sample config file of a config dataclass: commented TOML that :func:`stackeye.core.config.load`
reads back to the same values (``stackeye up --print-config``, ``stackeye agent print-config``…).

Each setting gets its help as a comment, then its unit and constraints, its flag and environment
variable; values are written with their units (``"10s"``, ``"256MiB"``). An empty list of
[[tables]] is shown as a commented example table.
"""
from __future__ import annotations

import textwrap
from typing import Any

import tomlkit

from stackeye.core.config import LIST, MAP, SCALAR, SECTIONS, TABLES, Setting, from_mapping, settings


def render_toml(config, title: str) -> str:
    """Every setting of ``config`` (an instance: its values, defaults included) as commented TOML."""
    lines = [f"# {title}",
             "# Every key is optional. Precedence: defaults < this file (--config FILE) < STACKEYE_* environment < flags."]
    _table(config, "", lines)
    return "\n".join(lines) + "\n"


def _value(v: Any) -> str:
    if isinstance(v, str) and "\\" in v and "'" not in v and "\n" not in v:
        return tomlkit.string(v, literal=True).as_string()  # regexes read better without doubled backslashes
    if isinstance(v, tuple):
        v = list(v)
    return tomlkit.item(v).as_string()


def _key(k: str) -> str:
    return tomlkit.key(k).as_string()


def _details(s: Setting, top: bool) -> str:
    o = s.options
    parts = [o.unit.name] if o.unit else []
    if o.required:
        parts.append("required")
    if o.positive:
        parts.append("> 0")
    if o.minimum is not None:
        parts.append(f">= {s.show(o.minimum)}")
    if o.maximum is not None:
        parts.append(f"<= {s.show(o.maximum)}")
    if o.choices:
        parts.append("one of " + ", ".join(map(str, o.choices)))
    if top:
        parts.append(f"flag {s.flag}" + (" (repeatable)" if s.kind in (LIST, MAP, TABLES) else ""))
        if s.env:
            parts.append(f"env {s.env}")
    return "; ".join(parts)


def _comment(s: Setting, top: bool) -> list[str]:
    details = _details(s, top)
    return ["# " + line for line in textwrap.wrap(s.help, 98)] + ([f"#   ({details})"] if details else [])


def _table(obj, key: str, lines: list[str]) -> None:
    top = not key
    specs = settings(type(obj))
    for s in specs:
        if s.kind in (SCALAR, LIST):
            lines += ([""] if top else []) + _comment(s, top)
            value = getattr(obj, s.name)
            if s.kind == SCALAR and s.options.positive and not isinstance(value, bool) and value == 0:
                # 0 stands for "not set" and is not a value one may write: show it commented out
                shown = s.options.example if s.options.example is not None else value
                lines.append(f"# {s.name} = {_value(s.show(shown))}")
            else:
                lines.append(f"{s.name} = {_value(s.show(value))}")
    for s in specs:
        path = f"{key}.{s.name}" if key else s.name
        if s.kind == MAP:
            lines += ["", *_comment(s, top), f"[{path}]"]
            lines += [f"{_key(k)} = {_value(v)}" for k, v in getattr(obj, s.name).items()]
        elif s.kind == TABLES:
            lines += ["", *_comment(s, top)]
            items = getattr(obj, s.name)
            for item in items:
                lines.append(f"[[{path}]]")
                _table(item, path, lines)
            if not items and s.options.example is not None:
                example: list[str] = []
                _table(from_mapping(s.type, s.options.example, path), path, example)
                lines += [f"# [[{path}]]"] + [line if line.startswith("#") else "# " + line for line in example]
        elif s.kind == SECTIONS:
            sections = getattr(obj, s.name)
            for name, (cls, doc) in s.sections().items():
                lines += ["", f"# {doc}" if doc else f"# {s.options.section_noun} {name}", f"[{path}.{name}]"]
                _table(sections.get(name) or cls(), f"{path}.{name}", lines)


def render_table(obj, path: str) -> str:
    """One ``[path]`` table of ``obj``'s settings (no flags, no environment: e.g. a policy file's
    ``[autoscale.<service>]``), commented like :func:`render_toml`."""
    lines = [f"[{path}]"]
    _table(obj, path, lines)
    return "\n".join(lines) + "\n"
