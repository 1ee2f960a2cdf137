"""Configuration: defaults < TOML file < ``STACKEYE_*`` environment < command-line flags.

Every setting is a field of a frozen dataclass with its default and a one-line doc (the
``metadata["help"]``). The same names are used everywhere: ``max_request_bytes`` in the file,
``STACKEYE_MAX_REQUEST_BYTES`` in the environment, ``--max-request-bytes`` on the command line.
Unknown keys in the file are an error naming the key and the valid ones.
"""
from __future__ import annotations

import dataclasses
import difflib
import os
import sys
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib



class ConfigError(ValueError):
    pass


def setting(default, help: str, metavar: str = ""):
    meta = {"help": help, "metavar": metavar}
    if isinstance(default, (list, tuple)):
        return dataclasses.field(default_factory=lambda: tuple(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def check_address(name: str, value: str) -> None:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"{name} must be HOST:PORT (e.g. 127.0.0.1:4317), got {value!r}")


def _convert(cls, field: dataclasses.Field, value: Any, source: str):
    kind = field.type if isinstance(field.type, type) else {"str": str, "int": int, "float": float,
                                                             "bool": bool, "tuple": tuple}.get(str(field.type), str)
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            lowered = str(value).strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if kind is tuple:
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            return tuple(value)
        if kind is int and isinstance(value, str):
            return int(value.replace("_", ""))
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError("expected a whole number")
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: bad value {value!r} for {field.name} ({exc})") from None


def load(cls, *, file: str | None = None, env: Mapping[str, str] | None = None,
         flags: Mapping[str, Any] | None = None, prefix: str = "STACKEYE_"):
    """Build ``cls`` from its defaults, then the TOML file, the environment and the flags."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    if file:
        try:
            with open(file, "rb") as fh:
                doc = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {file} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {file} is not valid TOML: {exc}") from None
        for key, value in doc.items():
            name = key.replace("-", "_")
            if name not in fields:
                near = difflib.get_close_matches(name, fields, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise ConfigError(f"{file}: unknown key {key!r}{hint}; valid keys: {', '.join(sorted(fields))}")
            values[name] = _convert(cls, fields[name], value, file)
    for name, field in fields.items():
        raw = (env if env is not None else os.environ).get(prefix + name.upper())
        if raw is not None:
            values[name] = _convert(cls, field, raw, f"environment {prefix + name.upper()}")
    for name, value in (flags or {}).items():
        if value is not None and name in fields:
            values[name] = _convert(cls, fields[name], value, f"--{name.replace('_', '-')}")
    config = cls(**values)
    if hasattr(config, "validate"):
        config.validate()
    return config


def describe(cls) -> list[tuple[str, Any, str]]:
    """(name, default, help) of every setting, for --help and print-config."""
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out.append((f.name, default, f.metadata.get("help", "")))
    return out
