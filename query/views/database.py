"""database: per service, db system and normalized statement (``db.query.text`` or
``db.statement``, literals replaced by ``?``): calls, avg/p95/max, rows when recorded, share of
all database time, and the trace of the slowest call. Served from the ``db`` rollup."""
from __future__ import annotations

import dataclasses

from stackeye.query.views import common, rollups
from stackeye.query.views import sql as q
from stackeye.query.views.base import View
from stackeye.query.views.params import OFFSET, SERVICE, Param, Params, limit, sort


@dataclasses.dataclass(frozen=True)
class DatabaseRow:
    service: str
    db_system: str
    statement: str
    calls: int
    errors: int
    error_rate: float
    avg_ms: float
    p95_ms: float
    max_ms: float
    rows: int  # rows returned/affected, summed, when the instrumentation recorded them
    time_share_pct: float
    slowest_trace_id: str


ORDER = {"time": "total_ns", "calls": "calls", "avg_ms": "avg_ms", "p95_ms": "p95_ms", "max_ms": "max_ms",
         "errors": "errors"}
DB_SYSTEM = Param("db_system", help="only this db.system (postgresql, mysql, redis, …)")


def build(p: Params, use_rollups: bool) -> str:
    where = q.and_all(common.eq("ServiceName", p["service"]), common.eq("DbSystem", p["db_system"]))
    states = rollups.states(rollups.DATABASE, p.window, where if where != "1" else "", use_rollups)
    return f"""
SELECT ServiceName AS service, DbSystem AS db_system, Statement AS statement,
  countMerge(Calls) AS calls, countIfMerge(Errors) AS errors, {q.frac('errors', 'calls')} AS error_rate,
  sumMerge(DurationSum) AS total_ns, {', '.join(common.duration_columns('d'))},
  sumMerge(DbRows) AS rows, argMaxMerge(SlowestTrace) AS slowest_trace_id,
  {q.pct('total_ns', 'sum(total_ns) OVER ()')} AS time_share_pct
FROM ({states})
GROUP BY ServiceName, DbSystem, Statement
{common.page(p, ORDER, 'service, db_system, statement')}"""


VIEW = View(
    "database", "per normalized SQL statement: calls, avg/p95/max, rows, time share, slowest trace",
    DatabaseRow, (sort(*ORDER), limit(), OFFSET, SERVICE, DB_SYSTEM), build, uses_rollups=True,
    examples=("stackeye query database --since 24h --sort time",),
)
