"""Kubernetes' HorizontalPodAutoscaler arithmetic, as pure functions the autoscale policy composes.

What HPA does (``pkg/controller/podautoscaler``, autoscaling/v2 behaviors), and so what stackeye
does where the two overlap:

- **One metric** — ``ratio = observed / target``; within ``tolerance`` (0.1) of 1 the replica count
  stays; else ``desired = ceil(ratio × current)``. For a per-replica metric (CPU) the ratio is over
  the replicas that report it; a replica with no value counts as at its target when the ratio asks
  for fewer replicas and as 0 when it asks for more, and if that turns the ratio around (or inside
  the tolerance) nothing changes (:func:`per_replica`). A fleet-wide metric divided by the replicas
  (requests/s, Kafka lag: HPA's ``AverageValue`` target) gives ``ceil(total / target)``
  (:func:`average_value`).
- **Several metrics** — the largest recommendation wins; a metric that cannot be computed does not
  block a scale-up asked by the others, but forbids a scale-down (:func:`combine`).
- **Stabilization** — every raw recommendation is kept with its time; the result is at least the
  lowest recommendation of the scale-up window (0 s: the current one) and at most the highest of the
  scale-down window (300 s), so a dip shorter than the window never removes replicas
  (:func:`stabilize`).
- **Rate limits** — step policies over a period: by default up to +100 % or +4 replicas per 15 s
  (whichever allows more), down to −100 % per 15 s; the count at the period's start is the current
  one minus what was added (plus what was removed) within the period (:func:`limit_rate`).
- **Bounds** — then ``min_replicas``/``max_replicas``.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Iterable, Sequence


@dataclasses.dataclass(frozen=True)
class Step:
    """One HPA scaling policy: ``kind`` "pods" or "percent", ``value`` per ``period_s``."""

    kind: str
    value: float
    period_s: float


SCALE_UP_DEFAULT = (Step("percent", 100, 15), Step("pods", 4, 15))  # select: the one that allows most
SCALE_DOWN_DEFAULT = (Step("percent", 100, 15),)


def within(ratio: float, tolerance: float) -> bool:
    return abs(ratio - 1.0) <= tolerance


def per_replica(values: Sequence[float | None], target: float, tolerance: float,
                full: float | None = None) -> tuple[int | None, str]:
    """Desired replicas from a per-replica metric (one value per live replica, None when missing).
    ``full``: what a silent replica counts as on a scale-down (HPA: 100 % of its CPU request for a
    resource metric, the target for others; default the target)."""
    current = len(values)
    known = [v for v in values if v is not None]
    if not known:
        return None, "no replica reports it"
    ratio = sum(known) / len(known) / target
    missing = current - len(known)
    if missing == 0:
        if within(ratio, tolerance):
            return current, f"{ratio:.2f}× target, within tolerance {tolerance:g}"
        return math.ceil(ratio * len(known)), f"{ratio:.2f}× target"
    # HPA: missing pods count as at the target (100 %) for a scale-down, as 0 for a scale-up
    assumed = (target if full is None else max(full, target)) if ratio < 1 else 0.0
    new_ratio = (sum(known) + assumed * missing) / current / target
    note = f"{ratio:.2f}× target on {len(known)} of {current} replicas, {new_ratio:.2f}× counting the " \
           f"{missing} silent as {'at target' if ratio < 1 else 'idle'}"
    if within(new_ratio, tolerance) or (ratio > 1) != (new_ratio > 1):
        return current, note + ": no change"
    desired = math.ceil(new_ratio * current)
    if (new_ratio < 1 and desired > current) or (new_ratio > 1 and desired < current):
        return current, note + ": no change"
    return desired, note


def average_value(total: float | None, current: int, target: float, tolerance: float) -> tuple[int | None, str]:
    """Desired replicas from a fleet-wide total against a per-replica target (AverageValue)."""
    if total is None:
        return None, "not reported"
    if current == 0:
        return math.ceil(total / target), f"{total:g} with no replica"
    ratio = total / (target * current)
    if within(ratio, tolerance):
        return current, f"{ratio:.2f}× target, within tolerance {tolerance:g}"
    return math.ceil(total / target), f"{ratio:.2f}× target"


def combine(current: int, desired: Iterable[tuple[str, int | None]]) -> tuple[int, str]:
    """The largest recommendation and its target's name; a missing one forbids scaling down."""
    known = [(d, name) for name, d in desired if d is not None]
    missing = [name for name, d in desired if d is None]
    if not known:
        return current, "no_metrics"
    best, name = max(known, key=lambda x: x[0])
    if missing and best < current:
        return current, "missing_metrics"
    return best, name


def stabilize(raw: int, current: int, history: Iterable[tuple[float, int]], now: float,
              up_window_s: float, down_window_s: float) -> int:
    """HPA's stabilization of ``raw`` given the earlier raw recommendations ``(epoch s, replicas)``."""
    up, down = raw, raw
    for t, rec in history:
        if t > now - up_window_s:
            up = min(up, rec)
        if t > now - down_window_s:
            down = max(down, rec)
    out = current
    if out < up:
        out = up
    if out > down:
        out = down
    return out


def _changed_within(events: Iterable[tuple[float, int]], now: float, period_s: float, sign: int) -> int:
    return sum(d for t, d in events if t > now - period_s and d * sign > 0) * sign


def limit_rate(desired: int, current: int, events: Sequence[tuple[float, int]], now: float,
               up: Sequence[Step] = SCALE_UP_DEFAULT, down: Sequence[Step] = SCALE_DOWN_DEFAULT) -> tuple[int, str]:
    """``desired`` within the step policies; ``events`` are the earlier changes ``(epoch s, ±replicas)``.
    Returns the limited count and the step that limited it ("" when none did)."""
    if desired > current and up:
        limits = []
        for s in up:
            start = current - _changed_within(events, now, s.period_s, +1)
            cap = start + s.value if s.kind == "pods" else math.ceil(start * (1 + s.value / 100))
            limits.append((cap, s))
        cap, step = max(limits, key=lambda x: x[0])
        if desired > cap:
            return max(cap, current), _describe(step, "up")
    if desired < current and down:
        limits = []
        for s in down:
            start = current + _changed_within(events, now, s.period_s, -1)
            floor = start - s.value if s.kind == "pods" else math.floor(start * (1 - s.value / 100))
            limits.append((floor, s))
        floor, step = min(limits, key=lambda x: x[0])
        if desired < floor:
            return min(floor, current), _describe(step, "down")
    return desired, ""


def _describe(step: Step, way: str) -> str:
    amount = f"{step.value:g} replicas" if step.kind == "pods" else f"{step.value:g}%"
    return f"scale-{way} limit {amount} per {step.period_s:g}s"
