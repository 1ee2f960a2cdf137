"""Scale ahead of a ramp the previous days already showed.

A replica takes time to start and warm up; a reactive policy only adds it once the load is there.
Traffic with a daily shape repeats: the rollups hold, for each of the previous days, the requests/s
of the hour around ``now`` and of the hour after (:class:`~stackeye.decisions.model.HourLoad`). On
each day the load is taken as linear between those two hours' midpoints, which gives the growth
from ``now`` to ``now + lead`` on that day; the median over the days (robust to one odd day) is the
expected growth. The policy multiplies the replicas the current load needs by it, so a known
morning ramp is met ``lead`` early. Only growth acts: a forecast never removes replicas (the load
falling is seen soon enough, and scale-down is stabilized anyway).

>>> from stackeye.decisions.model import HourLoad
>>> import datetime as dt
>>> at = dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.timezone.utc)  # the midpoint of the 08:00 hour
>>> round(growth(at, [HourLoad(1, 100.0, 200.0), HourLoad(2, 110.0, 220.0)], lead_s=1800, min_days=1), 2)
1.5
"""
from __future__ import annotations

import datetime as dt
import statistics
from typing import Sequence

from stackeye.decisions.model import HourLoad


def _at(day: HourLoad, offset_h: float) -> float:
    """The load ``offset_h`` hours after the midpoint of the hour holding ``now`` (linear)."""
    return day.rps_now + (day.rps_ahead - day.rps_now) * offset_h


def growth(now: dt.datetime, history: Sequence[HourLoad], lead_s: float, min_days: int) -> float | None:
    """The median over the previous days of load(now + lead) / load(now); None with fewer than
    ``min_days`` days that had traffic."""
    into_hour = (now.minute * 60 + now.second + now.microsecond / 1e6) / 3600 - 0.5
    ratios = []
    for day in history:
        base = _at(day, into_hour)
        if day.rps_now > 0 and base > 0:
            ratios.append(max(0.0, _at(day, into_hour + lead_s / 3600)) / base)
    if len(ratios) < max(1, min_days):
        return None
    return statistics.median(ratios)
