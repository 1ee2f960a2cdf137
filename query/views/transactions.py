"""transactions: per service and route (HTTP route template, else operation name): calls, error
rate, p50/p95/p99 and the share of all entry-span time. Served from the ``red`` rollup."""
from __future__ import annotations

import dataclasses

from stackeye.query.views import common, rollups
from stackeye.query.views import sql as q
from stackeye.query.views.base import View
from stackeye.query.views.params import OFFSET, SERVICE, Param, Params, limit, sort


@dataclasses.dataclass(frozen=True)
class TransactionRow:
    service: str
    route: str
    calls: int
    errors: int
    error_rate: float
    avg_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    time_share_pct: float  # this route's total time / all routes' total time in the result scope, %


ORDER = {"time": "total_ns", "calls": "calls", "errors": "errors", "error_rate": "error_rate",
         "p95_ms": "p95_ms", "p99_ms": "p99_ms", "avg_ms": "avg_ms"}
ROUTE = Param("route", help="only this route")


def build(p: Params, use_rollups: bool) -> str:
    where = q.and_all(common.eq("ServiceName", p["service"]))
    states = rollups.states(rollups.RED, p.window, where if p["service"] else "", use_rollups)
    route = f"WHERE route = {q.lit(p['route'])}" if p["route"] else ""
    return f"""
SELECT *
FROM (
  SELECT ServiceName AS service, Route AS route, countMerge(Calls) AS calls, countIfMerge(Errors) AS errors,
    {q.frac('errors', 'calls')} AS error_rate, sumMerge(DurationSum) AS total_ns,
    {', '.join(common.duration_columns('d'))},
    {q.pct('total_ns', 'sum(total_ns) OVER ()')} AS time_share_pct
  FROM ({common.entries(states)})
  GROUP BY ServiceName, Route
)
{route}
{common.page(p, ORDER, 'service, route')}"""


VIEW = View(
    "transactions", "per service and route: calls, error rate, p50/p95/p99, time share",
    TransactionRow, (sort(*ORDER), limit(), OFFSET, SERVICE, ROUTE), build, uses_rollups=True,
    examples=("stackeye query transactions --service checkout --since 1h",),
)
