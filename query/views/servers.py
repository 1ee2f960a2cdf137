"""servers: per host — response time (avg, p95), error rate and throughput of the entry spans
served there, joined on ``host.name`` with the agent's host metrics: CPU use % (100 × (1 − mean
idle utilization) from ``system.cpu.utilization``) and memory free % (100 × mean ``free``
utilization from ``system.memory.utilization``). From the ``red`` and ``host_metrics`` rollups.

Hosts with metrics and no spans are listed too (their span columns are 0)."""
from __future__ import annotations

import dataclasses

from stackeye.query.views import common, rollups
from stackeye.query.views import sql as q
from stackeye.query.views.base import View
from stackeye.query.views.params import HOST, OFFSET, Params, limit, sort


@dataclasses.dataclass(frozen=True)
class ServerRow:
    host: str
    calls: int
    response_time_ms: float  # mean duration of entry spans
    p95_ms: float
    error_rate: float
    throughput_rps: float
    cpu_pct: float | None  # None when the host sends no host metrics
    memory_free_pct: float | None


ORDER = {"throughput": "throughput_rps", "response_time": "response_time_ms", "p95_ms": "p95_ms",
         "error_rate": "error_rate", "cpu": "ifNull(cpu_pct, -1)", "memory_free": "-ifNull(memory_free_pct, 101)"}



def build(p: Params, use_rollups: bool) -> str:
    host_cond = common.eq("HostName", p["host"])
    states = rollups.states(rollups.RED, p.window, host_cond, use_rollups)
    hosts = rollups.states(rollups.HOSTS, p.window, host_cond, use_rollups)
    cpu, mem = "MetricName = 'system.cpu.utilization' AND State = 'idle'", "MetricName = 'system.memory.utilization' AND State = 'free'"
    return f"""
SELECT if(s.host != '' OR m.host = '', s.host, m.host) AS host, s.calls AS calls,
  s.response_time_ms AS response_time_ms, s.p95_ms AS p95_ms, s.error_rate AS error_rate,
  round(s.calls / {p.window.seconds}, 6) AS throughput_rps,
  m.cpu_pct AS cpu_pct, m.memory_free_pct AS memory_free_pct
FROM (
  SELECT HostName AS host, countMerge(Calls) AS calls, {q.frac('countIfMerge(Errors)', 'calls')} AS error_rate,
    {q.ms('sumMerge(DurationSum) / greatest(calls, 1)')} AS response_time_ms,
    {q.ms('quantilesMerge(0.5, 0.95, 0.99)(DurationQ)[2]')} AS p95_ms
  FROM ({common.entries(states)})
  GROUP BY HostName
) AS s
FULL OUTER JOIN (
  SELECT HostName AS host,
    if(countMergeIf(Points, {cpu}) = 0, NULL,
       round(100 * (1 - sumMergeIf(ValueSum, {cpu}) / countMergeIf(Points, {cpu})), 3)) AS cpu_pct,
    if(countMergeIf(Points, {mem}) = 0, NULL,
       round(100 * sumMergeIf(ValueSum, {mem}) / countMergeIf(Points, {mem}), 3)) AS memory_free_pct
  FROM ({hosts})
  GROUP BY HostName
) AS m ON s.host = m.host
{common.page(p, ORDER, 'host')}"""


VIEW = View(
    "servers", "per host: response time, error rate, throughput, CPU %, memory free %",
    ServerRow, (sort(*ORDER), limit(), OFFSET, HOST), build, uses_rollups=True,
    examples=("stackeye query servers --since 15m",),
)
