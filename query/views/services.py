"""services: RED per service — rate, errors, p50/p95/p99 duration and Apdex, over entry spans.

Entry spans are SERVER and CONSUMER spans; a service with none in the window is measured on its
root spans instead (a batch job, a CLI). Served from the ``red`` rollup (see rollups.py).
"""
from __future__ import annotations

import dataclasses

from stackeye.query.views import common, rollups
from stackeye.query.views import sql as q
from stackeye.query.views.base import View
from stackeye.query.views.params import OFFSET, SERVICE, Params, limit, sort


@dataclasses.dataclass(frozen=True)
class ServiceRow:
    service: str
    calls: int
    errors: int
    error_rate: float  # fraction of calls with status Error, 0..1
    rate_per_s: float  # calls per second over the window
    avg_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    apdex: float  # 0..1 with T = apdex_t_ms


ORDER = {"calls": "calls", "errors": "errors", "error_rate": "error_rate", "p95_ms": "p95_ms",
         "p99_ms": "p99_ms", "apdex": "-apdex"}


def build(p: Params, use_rollups: bool) -> str:
    states = rollups.states(rollups.RED, p.window, common.eq("ServiceName", p["service"]), use_rollups)
    return f"""
SELECT ServiceName AS service, countMerge(Calls) AS calls, countIfMerge(Errors) AS errors,
  {q.frac('errors', 'calls')} AS error_rate,
  round(calls / {p.window.seconds}, 6) AS rate_per_s,
  {', '.join(common.duration_columns('d'))},
  {common.apdex(p)} AS apdex
FROM ({common.entries(states)})
GROUP BY ServiceName
{common.page(p, ORDER, 'service')}"""


VIEW = View(
    "services", "RED per service: rate, errors, p50/p95/p99 and Apdex over entry spans",
    ServiceRow, (common.APDEX_T, sort(*ORDER), limit(), OFFSET, SERVICE), build, uses_rollups=True,
    examples=("stackeye query services --since 15m", "stackeye query services --sort error_rate"),
)
