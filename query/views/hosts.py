"""hosts: per host and interval — CPU use %, memory used %, disk and network bytes/s, load — from
the agent's host metrics (``system.cpu.utilization``, ``system.memory.utilization`` by state,
``system.disk.io.rate``, ``system.network.io.rate`` summed over devices/directions,
``system.cpu.load_average.1m``). One row per host and point, for charts. Served from the
``host_metrics`` rollup (the interval is whole minutes, or whole hours, to use it)."""
from __future__ import annotations

import dataclasses

from stackeye.query.views import common, rollups
from stackeye.query.views.base import View
from stackeye.query.views.params import HOST, Params, limit


@dataclasses.dataclass(frozen=True)
class HostPoint:
    host: str
    time: str  # RFC 3339, start of the interval
    cpu_pct: float | None
    memory_used_pct: float | None
    disk_bytes_per_s: float | None
    network_bytes_per_s: float | None
    load_1m: float | None


def _pick(metric: str, state: str | None, expr: str) -> str:
    cond = f"MetricName = '{metric}'" + (f" AND State = '{state}'" if state is not None else "")
    return f"if(countIf({cond}) = 0, NULL, round(anyIf({expr}, {cond}), 3))"


def build(p: Params, use_rollups: bool) -> str:
    step = common.interval_seconds(p, points=30)
    states = rollups.states(rollups.HOSTS, p.window, common.eq("HostName", p["host"]), use_rollups,
                            hours=step % 3600 == 0, minutes=step % 60 == 0)
    return f"""
SELECT HostName AS host, {common.iso('t')} AS time,
  {_pick('system.cpu.utilization', 'idle', '100 * (1 - vsum / points)')} AS cpu_pct,
  {_pick('system.memory.utilization', 'free', '100 * (1 - vsum / points)')} AS memory_used_pct,
  {_pick('system.disk.io.rate', None, 'vsum / times')} AS disk_bytes_per_s,
  {_pick('system.network.io.rate', None, 'vsum / times')} AS network_bytes_per_s,
  {_pick('system.cpu.load_average.1m', None, 'vsum / points')} AS load_1m
FROM (
  SELECT HostName, {common.bucket('Bucket', step)} AS t, MetricName, State,
    sumMerge(ValueSum) AS vsum, countMerge(Points) AS points, uniqExactMerge(Times) AS times
  FROM ({states})
  WHERE MetricName IN ('system.cpu.utilization', 'system.memory.utilization') AND State IN ('idle', 'free')
     OR MetricName NOT IN ('system.cpu.utilization', 'system.memory.utilization')
  GROUP BY HostName, t, MetricName, State
)
GROUP BY HostName, t
ORDER BY host, t
LIMIT {int(p['limit'])}"""


VIEW = View(
    "hosts", "per host and interval: CPU %, memory used %, disk and network bytes/s, load",
    HostPoint, (HOST, common.INTERVAL, limit(10_000)), build, uses_rollups=True,
    examples=("stackeye query hosts --host web-1 --since 6h --interval 5m",),
)
