"""The agent's in-memory data points, produced by collectors and turned into OTLP by :mod:`.otlp`."""
from __future__ import annotations

import dataclasses
from typing import Mapping


@dataclasses.dataclass(frozen=True)
class Point:
    """One metric data point. ``kind`` is "gauge" or "sum" (cumulative, ``start`` in epoch seconds)."""

    name: str
    value: float
    attrs: Mapping[str, str] = dataclasses.field(default_factory=dict)
    kind: str = "gauge"
    unit: str = ""
    start: float | None = None  # sums: when counting began (boot, or the last reset)
    monotonic: bool = True


def gauge(name: str, value: float, unit: str = "", **attrs) -> Point:
    return Point(name, float(value), {k.replace("__", "."): str(v) for k, v in attrs.items()}, "gauge", unit)


def counter(name: str, value: float, start: float | None, unit: str = "", monotonic: bool = True, **attrs) -> Point:
    return Point(name, float(value), {k.replace("__", "."): str(v) for k, v in attrs.items()}, "sum", unit, start, monotonic)


def with_attrs(points: list[Point], **attrs) -> list[Point]:
    """The same points with ``attrs`` added (``server__address`` -> ``server.address``)."""
    extra = {k.replace("__", "."): str(v) for k, v in attrs.items()}
    return [dataclasses.replace(p, attrs={**extra, **p.attrs}) for p in points]
