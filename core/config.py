"""Configuration of every stackeye process: defaults < TOML file < ``STACKEYE_*`` environment < flags.

A process's settings are one frozen dataclass; each field is declared with :func:`setting`, which
carries its default, help, metavar, unit (:mod:`stackeye.core.units`) and constraints. Types come
from the annotations; the same name is used everywhere: ``max_request_bytes`` in the file,
``STACKEYE_MAX_REQUEST_BYTES`` in the environment, ``--max-request-bytes`` on the command line
(``stackeye.cli.options`` generates the flags, :mod:`stackeye.core.config_sample` the sample file).

Annotations understood: ``str``, ``int``, ``float``, ``bool``; ``tuple[str, ...]`` (a TOML list, a
comma-separated environment variable, a repeatable flag); ``Mapping[str, str]`` (a table,
``KEY=VALUE`` pairs); ``tuple[SomeDataclass, ...]`` (``[[name]]`` tables; flags add tables);
``Mapping[str, Any]`` with ``sections=`` (``[name.<section>]`` tables whose classes come from a
registry). Unknown keys, at any depth, are an error naming the key and the nearest valid one; bad
values are an error naming the key, flag or environment variable and what was expected. Both are
:class:`ConfigError`, a :class:`~stackeye.core.errors.Fatal` (exit code 2).
"""
from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import functools
import math
import os
import sys
import typing
from typing import Any, Callable, Mapping

from stackeye.core.errors import Fatal
from stackeye.core.units import Unit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PREFIX = "STACKEYE_"
_OPTIONS = "stackeye.setting"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")

# Kinds of settings, from the annotation.
SCALAR, LIST, MAP, TABLES, SECTIONS = "scalar", "list", "map", "tables", "sections"


class ConfigError(Fatal, ValueError):
    """A bad setting. ``key`` is its dotted path (``collectors.redis.timeout``), ``where`` the source
    named in the message (``agent.toml: interval``, ``STACKEYE_HTTP``, ``--interval``).

    ``ConfigError("message")`` (no key) is accepted too, for checks spanning several settings."""

    def __init__(self, key: str, problem: str | None = None, *, where: str | None = None):
        if problem is None:
            key, problem = "", key
        self.key, self.problem = key, problem
        self.where = key if where is None else where
        super().__init__(f"{self.where}: {problem}" if self.where else problem)


@dataclasses.dataclass(frozen=True)
class Options:
    """What :func:`setting` declares beyond the default."""

    help: str
    metavar: str = ""
    unit: Unit | None = None
    positive: bool = False
    minimum: Any = None
    maximum: Any = None
    choices: tuple = ()
    required: bool = False  # empty means "not set"; check_required() refuses that before running
    example: Any = None  # shown in the required-error and, for [[tables]], as a commented table
    flag: str = ""  # default: --name-with-dashes
    env: bool = True
    item_key: str = ""  # [[tables]]: a flag value (or a plain string in the file) fills this key
    sections: Callable[[], Mapping[str, tuple[type, str]]] | None = None  # name -> (dataclass, one-line doc)
    section_noun: str = "section"
    toggle: tuple[str, str] = ()  # sections: the flags that set a section's `enabled` to true / false


def setting(default, help: str, metavar: str = "", **options):
    """A field of a config dataclass (see :class:`Options` for ``unit=``, ``positive=``…)."""
    meta = {_OPTIONS: Options(help=help, metavar=metavar, **options), "help": help, "metavar": metavar}
    if isinstance(default, (list, tuple)):
        return dataclasses.field(default_factory=lambda: tuple(default), metadata=meta)
    if isinstance(default, Mapping):
        return dataclasses.field(default_factory=lambda: dict(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class Setting:
    """One field of a config dataclass, with its kind and type resolved from the annotation."""

    name: str
    kind: str
    type: Any  # scalar type, list item, map value, table dataclass (None for sections)
    options: Options
    field: dataclasses.Field

    @property
    def help(self) -> str:
        return self.options.help

    @property
    def unit(self) -> Unit | None:
        return self.options.unit

    @property
    def flag(self) -> str:
        return self.options.flag or "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        """``STACKEYE_<NAME>``; none for [[tables]] and sections."""
        return PREFIX + self.name.upper() if self.options.env and self.kind not in (TABLES, SECTIONS) else ""

    @property
    def metavar(self) -> str:
        return self.options.metavar or (self.unit.metavar if self.unit else self.name.upper().split("_")[-1])

    def default(self) -> Any:
        f = self.field
        return f.default if f.default is not dataclasses.MISSING else f.default_factory()

    def show(self, value: Any) -> Any:
        """The value as the sample config and the messages write it (``"10s"``, ``"16MiB"``)."""
        if self.unit is None:
            return value
        if self.kind == LIST:
            return tuple(self.unit.show(v) for v in value)
        return self.unit.show(value)

    def sections(self) -> Mapping[str, tuple[type, str]]:
        return self.options.sections() if self.options.sections else {}


def _kind(owner: type, name: str, tp: Any, options: Options) -> tuple[str, Any]:
    if tp in (str, int, float, bool):
        return SCALAR, tp
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        if dataclasses.is_dataclass(args[0]):
            return TABLES, args[0]
        if args[0] in (str, int, float):
            return LIST, args[0]
    if origin in (dict, collections.abc.Mapping) and args and args[0] is str:
        if options.sections is not None:
            return SECTIONS, None
        if args[1] is str:
            return MAP, str
    raise TypeError(f"{owner.__name__}.{name}: unsupported setting type {tp!r} (str, int, float, bool, "
                    "tuple[str, ...], Mapping[str, str], tuple[<dataclass>, ...] or Mapping[str, Any] with sections=)")


@functools.cache
def settings(cls: type) -> tuple[Setting, ...]:
    """Every setting of config dataclass ``cls``; a field not declared with :func:`setting` is an error."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        options = f.metadata.get(_OPTIONS)
        if options is None:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with stackeye.core.config.setting()")
        kind, tp = _kind(cls, f.name, hints[f.name], options)
        if options.unit is not None and (kind not in (SCALAR, LIST) or tp is not options.unit.type):
            raise TypeError(f"{cls.__name__}.{f.name}: a {options.unit.name} is a {options.unit.type.__name__}")
        out.append(Setting(f.name, kind, tp, options, f))
    return tuple(out)


def describe(cls) -> list[tuple[str, Any, str]]:
    """(name, default, help) of every setting."""
    return [(s.name, s.default(), s.help) for s in settings(cls)]


# -- values ------------------------------------------------------------------------------------

def _scalar(s: Setting, tp: type, raw: Any, text: bool) -> Any:
    """``raw`` from TOML (typed) or from text (environment, flags) as a ``tp``; ValueError says why."""
    if s.unit is not None:
        return s.unit.parse(raw)
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        if text and isinstance(raw, str) and raw.strip().lower() in _TRUE + _FALSE:
            return raw.strip().lower() in _TRUE
        raise ValueError(f"expected true or false, got {raw!r}")
    if tp is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if text and isinstance(raw, str):
            try:
                return int(raw.strip().replace("_", ""))
            except ValueError:
                pass
        raise ValueError(f"expected a whole number, got {raw!r}")
    if tp is float:
        if text and isinstance(raw, str):
            try:
                raw = float(raw)
            except ValueError:
                pass
        if isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw):
            return float(raw)
        raise ValueError(f"expected a number, got {raw!r}")
    if isinstance(raw, str):
        return raw
    raise ValueError(f"expected a string, got {raw!r}")


def _list(s: Setting, raw: Any, text: bool) -> tuple:
    if text and isinstance(raw, str):
        items = [part.strip() for part in raw.split(",") if part.strip()]
    elif isinstance(raw, str):
        items = [raw]
    elif isinstance(raw, (list, tuple)):
        items = list(raw)
    else:
        raise ValueError(f"expected a list, e.g. {s.name} = [\"a\", \"b\"], got {raw!r}")
    return tuple(_scalar(s, s.type, item, text) for item in items)


def _map(s: Setting, raw: Any, text: bool) -> dict:
    if text and isinstance(raw, str):
        raw = [part for part in raw.split(",") if part.strip()]
    if isinstance(raw, (list, tuple)):
        pairs = {}
        for item in raw:
            k, sep, v = str(item).partition("=")
            if not sep or not k.strip():
                raise ValueError(f"expected KEY=VALUE, got {item!r}")
            pairs[k.strip()] = v.strip()
        return pairs
    if isinstance(raw, Mapping) and all(isinstance(v, str) for v in raw.values()):
        return dict(raw)
    raise ValueError(f"expected a table of strings, e.g. {s.name} = {{env = \"prod\"}}, got {raw!r}")


def _check(s: Setting, value: Any) -> None:
    o = s.options
    for v in value if s.kind == LIST else (value,):
        if o.choices and v not in o.choices:
            near = difflib.get_close_matches(str(v), [str(c) for c in o.choices], n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ValueError(f"expected one of {', '.join(map(repr, o.choices))}, got {v!r}{hint}")
        if o.positive and not v > 0:
            raise ValueError(f"must be positive (greater than zero), got {s.show(v)!r}")
        if o.minimum is not None and v < o.minimum:
            raise ValueError(f"must be at least {s.show(o.minimum)!r}, got {s.show(v)!r}")
        if o.maximum is not None and v > o.maximum:
            raise ValueError(f"must be at most {s.show(o.maximum)!r}, got {s.show(v)!r}")


def _value(s: Setting, raw: Any, text: bool, key: str, where: str) -> Any:
    if s.options.required and raw in ("", ()):
        return s.default()
    try:
        if s.kind == LIST:
            value = _list(s, raw, text)
        elif s.kind == MAP:
            value = _map(s, raw, text)
        else:
            value = _scalar(s, s.type, raw, text)
        _check(s, value)
    except ValueError as exc:
        raise ConfigError(key, str(exc), where=where) from None
    return value


# -- loading -----------------------------------------------------------------------------------

def read_toml(path: str) -> dict:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise ConfigError("config", f"config file {path} does not exist", where="--config") from None
    except IsADirectoryError:
        raise ConfigError("config", f"config file {path} is a directory; give a TOML file", where="--config") from None
    return parse_toml(data, f"config file {path}")


def parse_toml(data: bytes, source: str = "config") -> dict:
    """``data`` as TOML, or a ConfigError naming ``source`` (read_toml's parse without the file: the
    fuzz tests and bench/fuzz.py feed it many inputs a second)."""
    try:
        return tomllib.loads(data.decode())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{source} is not valid TOML: {exc}", where="--config") from None
    except UnicodeDecodeError as exc:
        raise ConfigError("config", f"{source} is not valid TOML: not UTF-8 text ({exc.reason} at byte "
                                    f"{exc.start}); save it as UTF-8", where="--config") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise ConfigError("config", f"{source} has arrays or inline tables nested too deeply "
                                    "to read; flatten them", where="--config") from None


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _where(source: str | None, key: str) -> str:
    return f"{source}: {key}" if source else key


def _unknown(key: str, name: str, valid, noun: str = "key") -> str:
    near = difflib.get_close_matches(name, list(valid), n=1)
    hint = f"did you mean {near[0]!r}?" if near else f"valid: {', '.join(sorted(valid))}"
    return f"unknown {noun} {_join(key, name)!r}; {hint}"


def load(cls, *, file: str | None = None, env: Mapping[str, str] | None = None,
         flags: Mapping[str, Any] | None = None):
    """``cls`` from its defaults, then the TOML ``file``, the environment and the ``flags``.

    ``flags`` maps a setting's name to its raw value(s) as given on the command line (None: not
    given): a string, a list for repeatable flags (they add tables to [[tables]] settings), and for
    sections ``{section: {"enabled": bool}}``."""
    doc = read_toml(file) if file else {}
    return _build(cls, doc, "", file, os.environ if env is None else env, flags or {})


def from_mapping(cls, raw: Mapping[str, Any], key: str = "", source: str | None = None):
    """``cls`` from a parsed TOML table (no environment, no flags); ``key`` prefixes error keys."""
    return _build(cls, raw, key, source, {}, {})


def _build(cls, doc: Any, key: str, source: str | None, env: Mapping[str, str], flags: Mapping[str, Any]):
    if not isinstance(doc, Mapping):
        raise ConfigError(key, f"expected a table of keys, got {doc!r}", where=_where(source, key))
    specs = {s.name: s for s in settings(cls)}
    given = {}
    for name, raw in doc.items():
        norm = str(name).replace("-", "_")
        if norm not in specs:
            raise ConfigError(_join(key, name), _unknown(key, name, specs), where=source or "")
        given[norm] = raw
    values: dict[str, Any] = {}
    for s in specs.values():
        k = _join(key, s.name)
        if s.kind == TABLES:
            values[s.name] = _tables(s, given.get(s.name, ()), flags.get(s.name) or (), k, source)
        elif s.kind == SECTIONS:
            values[s.name] = _sections(s, given.get(s.name, {}), flags.get(s.name) or {}, k, source)
        else:
            layers = [(given.get(s.name), False, _where(source, k)), (env.get(s.env) if s.env else None, True, s.env),
                      (flags.get(s.name), True, s.flag)]
            raw, text, where = next(((r, t, w) for r, t, w in reversed(layers) if r is not None), (None, False, ""))
            if raw is not None:
                values[s.name] = _value(s, raw, text, k, where)
    try:
        obj = cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(key or cls.__name__, str(exc), where=_where(source, key or cls.__name__)) from None
    check = getattr(obj, "validate", None)
    if check is not None:
        try:
            check()
        except ConfigError as exc:
            if not key:
                raise
            inner = _join(key, exc.key) if exc.key else key
            raise ConfigError(inner, exc.problem, where=_where(source, inner)) from None
    return obj


def _tables(s: Setting, raw: Any, from_flags, key: str, source: str | None) -> tuple:
    if isinstance(raw, (str, Mapping)):
        raw = [raw]
    if not isinstance(raw, (list, tuple)):
        raise ConfigError(key, f"expected [[{key}]] tables, got {raw!r}", where=_where(source, key))
    entries = [(entry, source) for entry in raw] + [(value, s.flag) for value in from_flags]
    out = []
    for i, (entry, where) in enumerate(entries):
        if isinstance(entry, str) and s.options.item_key:
            entry = {s.options.item_key: entry}
        out.append(_build(s.type, entry, f"{key}[{i}]", where, {}, {}))
    return tuple(out)


def _sections(s: Setting, raw: Any, from_flags: Mapping[str, Mapping], key: str, source: str | None) -> dict:
    known = s.sections()
    if not isinstance(raw, Mapping):
        raise ConfigError(key, f"expected [{key}.<{s.options.section_noun}>] tables, got {raw!r}",
                          where=_where(source, key))
    flag_source = "/".join(s.options.toggle) or s.flag
    out = {}
    for name in list(raw) + [n for n in from_flags if n not in raw]:
        where = source if name in raw else flag_source
        if name not in known:
            raise ConfigError(_join(key, name), f"no such {s.options.section_noun} {name!r}; "
                              + _unknown("", name, known, s.options.section_noun).split("; ", 1)[1],
                              where=_where(where, _join(key, name)))
        table = raw.get(name, {})
        if not isinstance(table, Mapping):
            raise ConfigError(_join(key, name), f"expected a [{key}.{name}] table, got {table!r}",
                              where=_where(where, _join(key, name)))
        out[name] = _build(known[name][0], {**table, **from_flags.get(name, {})}, _join(key, name), where, {}, {})
    return out


def check_required(config) -> None:
    """Refuse a config whose required settings are empty (loading accepts that, printing too)."""
    for s in settings(type(config)):
        if s.options.required and getattr(config, s.name) in ("", ()):
            example = s.options.example or s.metavar
            env = f", environment {s.env}" if s.env else ""
            raise ConfigError(s.name, f"required: {s.help}; set {s.flag} {example}{env} or {s.name} = "
                                      f"{_toml_string(example)} in the --config file")


def _toml_string(text: Any) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'
