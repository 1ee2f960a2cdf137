"""The agent's in-memory data points, produced by collectors and turned into OTLP by :mod:`.otlp`.

A point belongs to the agent's host resource; ``resource`` adds attributes of its own (a gateway's
access-log metrics carry ``service.name`` = the gateway), and :func:`.otlp.metrics_request` puts
points with different resources in separate ResourceMetrics.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping


@dataclasses.dataclass(frozen=True)
class Point:
    """One metric data point. ``kind`` is "gauge", "sum" (cumulative, ``start`` in epoch seconds) or
    "histogram" (cumulative explicit buckets: ``value`` is the sum of the observations, ``count``
    their number, ``buckets[i]`` how many fell in ``(bounds[i-1], bounds[i]]``, one more than bounds)."""

    name: str
    value: float
    attrs: Mapping[str, str] = dataclasses.field(default_factory=dict)
    kind: str = "gauge"
    unit: str = ""
    start: float | None = None  # sums: when counting began (boot, or the last reset)
    monotonic: bool = True
    resource: Mapping[str, str] = dataclasses.field(default_factory=dict)  # added to the host's resource
    count: int = 0  # histograms
    bounds: tuple[float, ...] = ()
    buckets: tuple[int, ...] = ()


def gauge(name: str, value: float, unit: str = "", **attrs) -> Point:
    return Point(name, float(value), {k.replace("__", "."): str(v) for k, v in attrs.items()}, "gauge", unit)


def counter(name: str, value: float, start: float | None, unit: str = "", monotonic: bool = True, **attrs) -> Point:
    return Point(name, float(value), {k.replace("__", "."): str(v) for k, v in attrs.items()}, "sum", unit, start, monotonic)


def histogram(name: str, total: float, count: int, bounds: tuple[float, ...], buckets: tuple[int, ...],
              start: float | None, unit: str = "", attrs: Mapping[str, str] | None = None,
              resource: Mapping[str, str] | None = None) -> Point:
    if len(buckets) != len(bounds) + 1:
        raise ValueError(f"{name}: {len(bounds)} bounds need {len(bounds) + 1} bucket counts, got {len(buckets)}")
    return Point(name, float(total), dict(attrs or {}), "histogram", unit, start, True, dict(resource or {}),
                 int(count), tuple(bounds), tuple(int(b) for b in buckets))


def with_attrs(points: list[Point], **attrs) -> list[Point]:
    """The same points with ``attrs`` added (``server__address`` -> ``server.address``)."""
    extra = {k.replace("__", "."): str(v) for k, v in attrs.items()}
    return [dataclasses.replace(p, attrs={**extra, **p.attrs}) for p in points]
