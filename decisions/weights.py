"""Routing weights: how much traffic each active server of a set should get, from how it compares.

Pure functions of the window's :class:`~stackeye.decisions.model.ServerLoad` rows and the previous
weight; :mod:`stackeye.decisions.routing` calls them for every active server whose breaker is closed.

The target weight of a server is ``max_weight × latency factor × failure factor``, never under
``min_weight`` (a slow server keeps a trickle of calls, so it is still measured and can earn its
weight back):

- **latency factor**: its latency (p95, else mean) against the median of the set's measured servers,
  both taken as at least ``latency_floor_ms`` (1 ms against 0.4 ms is not a slow server).
  At or under the median it asks for ``max_weight``. Above it by up to ``latency_tolerance`` (noise
  between healthy replicas) it asks for no change: a dead band, so that a slow server drained to a
  small share — where it is fast enough — keeps that share instead of being pushed back into the
  load that slowed it (without it the weight swings between the floor and the top). Beyond the
  tolerance it asks for ``((1 + tolerance) / ratio) ** latency_exponent`` of ``max_weight`` — inverse
  to how much slower it is, cubed by default, so a server 4× slower than its peers falls to the
  floor, one 1.75× slower to about a third (the cube drains it within 30 s in the simulator's
  slow-instance scenario, where the square took up to 55 s) while one 1.3× slower loses little —
  and never more than it has: a server slower than its peers does not gain weight.
- **failure factor**: its failure rate above the set's median failure rate, against the
  failure-percentage ejection threshold: 1 when it fails no more than its peers, falling linearly to
  0 (the floor) as the excess reaches the threshold at which :mod:`.outlier` would eject it. A server
  heading for ejection is drained before it gets there.

The weight moves toward the target by exponential smoothing (``smoothing`` is alpha: 1 jumps to the
target, 0.5 goes halfway each evaluation) and by at most ``max_step`` per evaluation either way.
A server with fewer than ``min_requests`` calls in the window keeps its weight — except one in slow
start (back from an ejection or an open breaker, at ``min_weight``), which climbs by ``max_step``
until it has the calls to be judged; otherwise a quiet set would keep a returned server on the floor.
The medians are over servers with at least ``min_requests`` calls; a lone server is its own median.
"""
from __future__ import annotations

import dataclasses
import statistics
from typing import Sequence

from stackeye.decisions.model import ServerLoad

SNAP = 1.0  # a smoothed weight within one unit of its target takes it (smoothing alone only nears it)


def latency_ms(load: ServerLoad) -> float | None:
    """The latency a server is compared on: its p95, else its mean (None: not measured)."""
    return load.p95_ms if load.p95_ms is not None else load.mean_ms


def failure_rate(load: ServerLoad) -> float:
    return load.errors / load.requests if load.requests else 0.0


@dataclasses.dataclass(frozen=True)
class SetStats:
    """The set's medians over its measured servers (``None``: no server had enough calls)."""

    median_latency_ms: float | None
    median_failure_rate: float | None
    measured: int  # servers with at least min_requests calls


def set_stats(loads: Sequence[ServerLoad], min_requests: int) -> SetStats:
    """Medians of latency and failure rate over ``loads`` that have at least ``min_requests`` calls."""
    measured = [ld for ld in loads if ld.requests >= min_requests]
    latencies = [v for v in (latency_ms(ld) for ld in measured) if v is not None]
    return SetStats(statistics.median(latencies) if latencies else None,
                    statistics.median(failure_rate(ld) for ld in measured) if measured else None, len(measured))


@dataclasses.dataclass(frozen=True)
class Target:
    """What one server's numbers ask for, and the numbers (the decision's ``detail``)."""

    weight: float
    latency_ratio: float | None
    latency_factor: float
    failure_factor: float
    measured: bool  # enough calls to be judged


def target(load: ServerLoad, stats: SetStats, current: float, settings) -> Target:
    """The weight ``load`` asks for against the set, given its ``current`` weight (see the module docstring)."""
    if load.requests < settings.min_requests:
        return Target(current, None, 1.0, 1.0, False)
    top = float(settings.max_weight)
    lat, ratio, lat_factor, lat_weight = latency_ms(load), None, 1.0, top
    if lat is not None and stats.median_latency_ms:
        floor = settings.latency_floor_ms  # differences among fast servers are noise, not slowness
        ratio = max(lat, floor) / max(stats.median_latency_ms, floor)
        allowed = 1.0 + settings.latency_tolerance
        if ratio > allowed:
            lat_factor = (allowed / ratio) ** settings.latency_exponent
            lat_weight = min(current, top * lat_factor)
        elif ratio > 1.0:
            lat_weight = current
    fail_factor = 1.0
    threshold = settings.failure_percentage_threshold / 100
    if threshold > 0 and stats.median_failure_rate is not None:
        excess = failure_rate(load) - stats.median_failure_rate
        fail_factor = min(1.0, max(0.0, 1.0 - excess / threshold))
    weight = max(float(settings.min_weight), min(lat_weight, top * fail_factor))
    return Target(weight, ratio, lat_factor, fail_factor, True)


def step(previous: float, wanted: float, settings) -> float:
    """``previous`` moved toward ``wanted``: smoothed by alpha, by at most ``max_step``, in bounds."""
    moved = previous + settings.smoothing * (wanted - previous)
    moved = previous + max(-settings.max_step, min(settings.max_step, moved - previous))
    if abs(moved - wanted) < SNAP:
        moved = wanted
    return max(float(settings.min_weight), min(float(settings.max_weight), moved))


def slow_start_step(previous: float, settings) -> float:
    """A returned server without the calls to be judged: one ``max_step`` up, at most ``max_weight``."""
    return min(float(settings.max_weight), previous + settings.max_step)


def explain(load: ServerLoad, stats: SetStats, t: Target, before: float, after: float, settings) -> str:
    """One sentence: what drove the weight, and how it moved."""
    move = f"weight {before:.0f} → {after:.0f}" if round(before) != round(after) else f"weight {after:.0f}"
    if round(before) != round(after) and abs(after - before) >= settings.max_step - 1e-9:
        move += f" (max step {settings.max_step:g})"
    if not t.measured:
        return f"{load.requests} calls in the window (fewer than min_requests {settings.min_requests}): {move}"
    lat = latency_ms(load)
    which = "p95" if load.p95_ms is not None else "mean latency"
    failed = failure_rate(load)
    if t.failure_factor < 1.0 and t.failure_factor <= t.latency_factor:
        return (f"{100 * failed:.1f} % of {load.requests} calls failed against the set's median "
                f"{100 * (stats.median_failure_rate or 0):.1f} %: {move}")
    if t.latency_factor < 1.0:
        return (f"{which} {lat:.0f} ms is {t.latency_ratio:.1f}× the set's median "
                f"{stats.median_latency_ms:.0f} ms: {move}")
    lat_text = f"{which} {lat:.0f} ms" if lat is not None else "no latency"
    if t.latency_ratio is not None and 1.0 < t.latency_ratio <= 1.0 + settings.latency_tolerance \
            and after < settings.max_weight:
        return (f"{which} {lat:.0f} ms is {t.latency_ratio:.2f}× the set's median, within the "
                f"{100 * settings.latency_tolerance:g} % tolerance: {move}")
    ratio_text = f" ({t.latency_ratio:.1f}× the median)" if t.latency_ratio is not None else ""
    return f"healthy: {lat_text}{ratio_text}, {100 * failed:.1f} % failed: {move}"
