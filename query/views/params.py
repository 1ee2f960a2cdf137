"""Typed, validated view parameters: every error names the parameter at fault.

A view declares its parameters as :class:`Param` values; :func:`parse_params` turns raw inputs
(strings from a URL or the command line, or Python values) into a :class:`Params` mapping. Time
ranges are ``since=15m`` (relative to now) or ``from``/``to`` in RFC 3339; the result is always a
:class:`Window` in UTC.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any, Callable, Mapping

UTC = dt.timezone.utc
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_WINDOW = dt.timedelta(days=31)
# What the tables' DateTime64(9) columns hold: nanoseconds in an Int64 from 1900 on (ClickHouse
# clamps below; above, its comparisons overflow).
EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.timezone.utc)
LATEST = dt.datetime(2262, 4, 11, 23, 47, 16, tzinfo=dt.timezone.utc)


class ParamError(ValueError):
    """A bad parameter; ``param`` names it (HTTP answers 400, the CLI exits 2)."""

    def __init__(self, param: str, reason: str):
        super().__init__(f"parameter {param!r}: {reason}")
        self.param = param
        self.reason = reason


def parse_duration(text: str, param: str = "since") -> dt.timedelta:
    """``15m``, ``1h``, ``7d``, ``500ms`` → timedelta."""
    if isinstance(text, dt.timedelta):
        return text
    m = _DURATION.match(str(text))
    if not m:
        raise ParamError(param, f"{text!r} is not a duration; use e.g. 15m, 1h, 24h, 7d")
    value = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    if value <= 0:
        raise ParamError(param, "must be greater than zero")
    try:
        return dt.timedelta(seconds=value)
    except OverflowError:  # past timedelta's ~2.7 million years
        raise ParamError(param, f"{text!r} is too long a duration") from None


def parse_time(text: Any, param: str) -> dt.datetime:
    """RFC 3339 (``2026-11-26T10:00:00Z``, offsets allowed) or a datetime; naive means UTC."""
    if isinstance(text, dt.datetime):
        value = text
    else:
        s = str(text).strip()
        if s.endswith(("Z", "z")):
            s = s[:-1] + "+00:00"
        try:
            value = dt.datetime.fromisoformat(s)
        except ValueError:
            raise ParamError(param, f"{text!r} is not an RFC 3339 time; use e.g. 2026-11-26T10:00:00Z") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: before year 1 in UTC
        value = None
    if value is None or not EARLIEST <= value <= LATEST:
        raise ParamError(param, f"{text!r} is out of range: from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%dT%H:%M:%SZ}")
    return value


@dataclasses.dataclass(frozen=True)
class Window:
    """A half-open UTC time range ``[start, end)``."""

    start: dt.datetime
    end: dt.datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @classmethod
    def last(cls, span: dt.timedelta, now: dt.datetime | None = None) -> "Window":
        """The last ``span`` up to now, end rounded up to the next whole minute (so rollups serve it)."""
        now = (now or dt.datetime.now(UTC)).astimezone(UTC)
        end = now.replace(second=0, microsecond=0)
        if end < now:
            end += dt.timedelta(minutes=1)
        return cls(end - span, end)


def window_from(raw: Mapping[str, Any], now: dt.datetime | None = None, default_since: str = "1h") -> Window:
    start_raw, end_raw, since_raw = raw.get("from"), raw.get("to"), raw.get("since")
    if start_raw not in (None, "") or end_raw not in (None, ""):
        if since_raw not in (None, ""):
            raise ParamError("since", "give either since or from/to, not both")
        if start_raw in (None, ""):
            raise ParamError("from", "required when 'to' is given")
        start = parse_time(start_raw, "from")
        end = parse_time(end_raw, "to") if end_raw not in (None, "") else (now or dt.datetime.now(UTC))
        if end <= start:
            raise ParamError("to", f"must be after 'from' ({start.isoformat()})")
        if end - start > MAX_WINDOW:
            raise ParamError("from", f"the time range is limited to {MAX_WINDOW.days} days")
        return Window(start, end)
    span = parse_duration(since_raw or default_since)
    if span > MAX_WINDOW:  # checked before the window is made: a huge span would overflow datetime
        raise ParamError("since", f"the time range is limited to {MAX_WINDOW.days} days")
    return Window.last(span, now)


# -- parameter declarations ---------------------------------------------------------------------
def _as_str(value: Any, p: "Param") -> str:
    s = str(value)
    if len(s) > 1000:
        raise ParamError(p.name, "longer than 1000 characters")
    return s


def _as_int(value: Any, p: "Param") -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        raise ParamError(p.name, f"{value!r} is not an integer") from None
    if p.minimum is not None and n < p.minimum:
        raise ParamError(p.name, f"must be at least {p.minimum}, got {n}")
    if p.maximum is not None and n > p.maximum:
        raise ParamError(p.name, f"must be at most {p.maximum}, got {n}")
    return n


def _as_float(value: Any, p: "Param") -> float:
    try:
        x = float(str(value).strip())
    except ValueError:
        raise ParamError(p.name, f"{value!r} is not a number") from None
    if x != x or (p.minimum is not None and x < p.minimum) or (p.maximum is not None and x > p.maximum):
        raise ParamError(p.name, f"must be between {p.minimum} and {p.maximum}, got {value!r}")
    return x


def _as_choice(value: Any, p: "Param") -> str:
    s = str(value)
    if s not in p.choices:
        raise ParamError(p.name, f"{s!r} is not one of {', '.join(p.choices)}")
    return s


def _as_hex(value: Any, p: "Param") -> str:
    s = str(value).strip().lower()
    if not re.fullmatch(r"[0-9a-f]{1,32}", s):
        raise ParamError(p.name, f"{value!r} is not a hex id (up to 32 hex digits)")
    return s


_CONVERTERS: dict[str, Callable[[Any, "Param"], Any]] = {
    "str": _as_str, "int": _as_int, "float": _as_float, "choice": _as_choice, "hex": _as_hex,
}


@dataclasses.dataclass(frozen=True)
class Param:
    name: str
    kind: str = "str"  # str | int | float | choice | hex
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False

    def __post_init__(self):
        if self.kind not in _CONVERTERS:
            raise ValueError(f"unknown parameter kind {self.kind!r}")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"choice parameter {self.name!r} has no choices")

    def convert(self, value: Any) -> Any:
        if value is None or value == "":
            if self.required:
                raise ParamError(self.name, "is required")
            return self.default
        return _CONVERTERS[self.kind](value, self)

    @property
    def json_type(self) -> str:
        return {"int": "integer", "float": "number"}.get(self.kind, "string")


# Shared declarations: one meaning per name across every view.
TIME_PARAMS = (
    Param("since", help="relative time range ending now, e.g. 15m, 1h, 24h (default 1h)"),
    Param("from", help="start of the time range, RFC 3339"),
    Param("to", help="end of the time range, RFC 3339 (default now)"),
)
SERVICE = Param("service", help="only this service (service.name)")
HOST = Param("host", help="only this host (host.name)")
OFFSET = Param("offset", "int", 0, "rows to skip (pagination)", minimum=0, maximum=1_000_000)


def limit(default: int = 100) -> Param:
    return Param("limit", "int", default, "rows to return", minimum=1, maximum=10_000)


def sort(*choices: str) -> Param:
    return Param("sort", "choice", choices[0], "sort key (descending)", choices=choices)


@dataclasses.dataclass(frozen=True)
class Params:
    """Validated parameter values plus the time window."""

    window: Window
    values: Mapping[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)


def parse_params(declared: tuple[Param, ...], raw: Mapping[str, Any], now: dt.datetime | None = None,
                 default_since: str = "1h") -> Params:
    known = {p.name for p in declared} | {"since", "from", "to"}
    for name in raw:
        if name not in known:
            raise ParamError(name, f"unknown parameter; this view takes {', '.join(sorted(known))}")
    values = {p.name: p.convert(raw.get(p.name)) for p in declared if p.name not in ("since", "from", "to")}
    return Params(window_from(raw, now, default_since), values)
