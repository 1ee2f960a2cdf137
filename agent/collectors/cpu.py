"""CPU time and utilization (system.cpu.*), from psutil.cpu_times(percpu=True)."""
from __future__ import annotations

import dataclasses
import time
from typing import Mapping, Sequence

import psutil

from stackeye.core.config import setting

from ..model import Point
from ..rates import Counters, counter_points
from ..registry import register


@dataclasses.dataclass(frozen=True)
class CpuConfig:
    enabled: bool = setting(True, "Collect system.cpu.time (per cpu and state) and system.cpu.utilization (per "
                                  "state).")
    per_cpu_utilization: bool = setting(False, "Also report system.cpu.utilization per logical CPU (attribute "
                                               '"cpu").')


def utilization(prev: Mapping[str, float], cur: Mapping[str, float]) -> dict[str, float] | None:
    """Share of each state in the time elapsed between two cpu_times samples (sums to 1).

    None when there is no usable interval: first sample, no time passed, or the counters went
    backwards (a CPU went offline and came back)."""
    deltas = {k: cur[k] - prev.get(k, 0.0) for k in cur}
    total = sum(deltas.values())
    if total <= 0 or any(d < 0 for d in deltas.values()):
        return None
    return {k: d / total for k, d in deltas.items()}


def parse_cpu_times(per_cpu: Sequence[Mapping[str, float]], prev: Sequence[Mapping[str, float]] | None,
                    counters: Counters, now: float, per_cpu_utilization: bool = False) -> list[Point]:
    """Points from per-CPU time dicts (state -> seconds); ``prev`` is the previous sample or None."""
    points: list[Point] = []
    for i, times in enumerate(per_cpu):
        for state, seconds in times.items():
            points += counter_points(counters, "system.cpu.time", seconds, now, "s", {"cpu": f"cpu{i}", "state": state})
    points.append(Point("system.cpu.logical.count", float(len(per_cpu)), {}, "gauge", "{cpu}"))
    if prev is not None and len(prev) == len(per_cpu):
        total_prev = _sum_states(prev)
        total_cur = _sum_states(per_cpu)
        util = utilization(total_prev, total_cur)
        if util is not None:
            points += [Point("system.cpu.utilization", v, {"state": s}, "gauge", "1") for s, v in util.items()]
        if per_cpu_utilization:
            for i, (a, b) in enumerate(zip(prev, per_cpu)):
                u = utilization(a, b)
                if u is not None:
                    points += [Point("system.cpu.utilization", v, {"cpu": f"cpu{i}", "state": s}, "gauge", "1")
                               for s, v in u.items()]
    counters.end_cycle(now)
    return points


def _sum_states(per_cpu: Sequence[Mapping[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for times in per_cpu:
        for k, v in times.items():
            out[k] = out.get(k, 0.0) + v
    return out


def read_cpu_times() -> list[dict[str, float]]:
    return [t._asdict() for t in psutil.cpu_times(percpu=True)]


@register("cpu", default_enabled=True, config=CpuConfig)
class CpuCollector:
    """CPU time per cpu and state, utilization per state (system.cpu.*)."""

    def __init__(self, config: CpuConfig):
        self.config = config
        self.counters = Counters(first_start=psutil.boot_time())
        self.prev: list[dict[str, float]] | None = None

    def collect(self) -> list[Point]:
        cur = read_cpu_times()
        points = parse_cpu_times(cur, self.prev, self.counters, time.time(), self.config.per_cpu_utilization)
        self.prev = cur
        return points
