"""Cumulative counters -> correct OTLP start times and per-second rates.

OS and middleware counters only grow, until they don't: a service restarts, a NIC is re-plugged,
a 32-bit counter wraps. :class:`Counters` remembers the last value of every series and gives

- the first sample: no rate (there is nothing to divide by), start = ``first_start`` (boot time
  for OS counters) when the series was there from the agent's first cycle, else the previous
  cycle's time (the series appeared in between);
- a counter reset (value below the last one): the counter restarted from zero somewhere in the
  interval, so the increase is the new value (as Prometheus' ``rate`` counts it) and the start
  time moves to the previous sample's time;
- series that disappear are forgotten (:meth:`end_cycle`), and start afresh if they come back.
"""
from __future__ import annotations

import dataclasses
from typing import Hashable


@dataclasses.dataclass
class _Series:
    time: float
    value: float
    start: float


@dataclasses.dataclass(frozen=True)
class Observation:
    start: float  # start time of the cumulative series, epoch seconds
    rate: float | None  # per second since the previous sample; None on the first sample
    reset: bool = False


class Counters:
    def __init__(self, first_start: float | None = None):
        self.first_start = first_start
        self._series: dict[Hashable, _Series] = {}
        self._seen: set[Hashable] = set()
        self._last_cycle: float | None = None

    def observe(self, key: Hashable, value: float, now: float) -> Observation:
        self._seen.add(key)
        prev = self._series.get(key)
        if prev is None:
            if self._last_cycle is None:
                start = self.first_start if self.first_start is not None else now
            else:
                start = self._last_cycle
            self._series[key] = _Series(now, value, start)
            return Observation(start, None)
        dt = now - prev.time
        if value < prev.value:  # reset: counted from zero since some time after prev.time
            prev.start, prev.time, prev.value = prev.time, now, value
            return Observation(prev.start, value / dt if dt > 0 else None, True)
        rate = (value - prev.value) / dt if dt > 0 else None
        prev.time, prev.value = now, value
        return Observation(prev.start, rate)

    def end_cycle(self, now: float) -> None:
        """Forget the series not observed since the last call (devices that went away)."""
        for key in [k for k in self._series if k not in self._seen]:
            del self._series[key]
        self._seen = set()
        self._last_cycle = now

    def __len__(self) -> int:
        return len(self._series)


def counter_points(counters: Counters, name: str, value: float, now: float, unit: str,
                   attrs: dict, rate_name: str | None = None) -> list:
    """A cumulative ``sum`` point with the right start time, plus a ``rate_name`` gauge (per second)
    when a rate exists (not on the first sample)."""
    from .model import Point

    obs = counters.observe((name, tuple(sorted(attrs.items()))), value, now)
    out = [Point(name, float(value), attrs, "sum", unit, obs.start)]
    if rate_name and obs.rate is not None:
        out.append(Point(rate_name, obs.rate, attrs, "gauge", unit + "/s"))
    return out
