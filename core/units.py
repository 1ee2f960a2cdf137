"""Units a setting declares: how its value is written (file, environment, flag) and shown.

- :data:`DURATION`: ``"10s"``, ``"500ms"``, ``"2m"``, ``"1h"`` or a number of seconds → float seconds.
- :data:`SIZE`: ``"256MiB"``, ``"1GB"``, ``"64KiB"`` or a number of bytes → int bytes.
- :data:`LISTEN`, :data:`CONNECT` (and ``*_OR_OFF``): ``HOST:PORT`` (:mod:`stackeye.core.address`).

A unit's ``parse`` raises ValueError with what was expected; ``show`` gives the value as the
sample config writes it (which ``parse`` reads back to the same value).
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable

from stackeye.core.address import AddressError, parse_address

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_DURATION_DIVISOR = {"ms": 1000}
_DURATION_FACTOR = {None: 1, "s": 1, "m": 60, "h": 3600}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib|tb|tib)?\s*$", re.I)
_SIZE_FACTOR = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3,
                "tb": 1000**4, "tib": 1024**4}
_SIZE_SHOWN = (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024),
               ("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("kB", 1000))
OFF_WORDS = ("", "off", "none", "false")


@dataclasses.dataclass(frozen=True)
class Unit:
    name: str
    type: type  # what the field holds
    metavar: str
    expected: str  # "a duration like ..." (completes "expected ...")
    parse: Callable[[Any], Any]
    show: Callable[[Any], Any]


def parse_duration(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected {DURATION.expected}, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"expected {DURATION.expected}, got {value!r}")
        number, unit = float(m.group(1)), m.group(2)
        seconds = number / _DURATION_DIVISOR[unit] if unit in _DURATION_DIVISOR else number * _DURATION_FACTOR[unit]
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    return seconds


def show_duration(seconds: float) -> str | float:
    if seconds and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    if 0 < seconds < 1 and parse_duration(f"{seconds * 1000:g}ms") == seconds:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s" if parse_duration(f"{seconds:g}s") == seconds else seconds


def parse_size(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, str) and (m := _SIZE.match(value)):
        n = int(float(m.group(1)) * _SIZE_FACTOR[(m.group(2) or "b").lower()])
    else:
        raise ValueError(f"expected {SIZE.expected}, got {value!r}")
    if n < 0:
        raise ValueError(f"a size cannot be negative, got {value!r}")
    return n


def show_size(n: int) -> str | int:
    for suffix, factor in _SIZE_SHOWN:
        if n and n % factor == 0:
            return f"{n // factor}{suffix}"
    return n


def _address(listen: bool, off: bool):
    def parse(value: Any) -> str:
        if off and isinstance(value, str) and value.strip().lower() in OFF_WORDS:
            return ""
        try:
            return str(parse_address(value, listen=listen))
        except AddressError as exc:
            raise ValueError(f"{exc}{' (or off)' if off else ''}") from None
    return parse


def _same(value: Any) -> Any:
    return value


DURATION = Unit("duration", float, "DURATION", "a duration like '10s', '500ms' or '2m' (or a number of seconds)",
                parse_duration, show_duration)
SIZE = Unit("size", int, "SIZE", "a size like '256MiB', '1GB' or a number of bytes", parse_size, show_size)
LISTEN = Unit("listen address", str, "HOST:PORT", "HOST:PORT to listen on", _address(True, False), _same)
LISTEN_OR_OFF = Unit("listen address or off", str, "HOST:PORT", "HOST:PORT to listen on, or off",
                     _address(True, True), _same)
CONNECT = Unit("address", str, "HOST:PORT", "HOST:PORT of the server", _address(False, False), _same)
