"""hosts: per host and interval — CPU use %, memory used %, disk and network bytes/s, load — from
the agent's host metrics (``system.cpu.utilization``, ``system.memory.utilization`` by state,
``system.disk.io.rate``, ``system.network.io.rate`` summed over devices/directions,
``system.cpu.load_average.1m``). One row per host and point, for charts."""
from __future__ import annotations

import dataclasses

from stackeye.query.views import common
from stackeye.query.views import sql as q
from stackeye.query.views.base import View
from stackeye.query.views.params import HOST, Params, limit

METRICS = ("system.cpu.utilization", "system.memory.utilization", "system.disk.io.rate",
           "system.network.io.rate", "system.cpu.load_average.1m")


@dataclasses.dataclass(frozen=True)
class HostPoint:
    host: str
    time: str  # RFC 3339, start of the interval
    cpu_pct: float | None
    memory_used_pct: float | None
    disk_bytes_per_s: float | None
    network_bytes_per_s: float | None
    load_1m: float | None


def _mean_of_sums(metric: str) -> str:
    """A rate summed over devices at each timestamp, then averaged over the interval."""
    return (f"if(countIf(MetricName = '{metric}') = 0, NULL, round(sumIf(Value, MetricName = '{metric}') / "
            f"uniqExactIf(TimeUnix, MetricName = '{metric}'), 3))")


def build(p: Params, use_rollups: bool) -> str:
    step = common.interval_seconds(p)
    state = "Attributes['state']"
    return f"""
SELECT ResourceAttributes['host.name'] AS host, {common.iso('t')} AS time,
  if(countIf(MetricName = 'system.cpu.utilization' AND {state} = 'idle') = 0, NULL,
     round(100 * (1 - avgIf(Value, MetricName = 'system.cpu.utilization' AND {state} = 'idle')), 3)) AS cpu_pct,
  if(countIf(MetricName = 'system.memory.utilization' AND {state} = 'free') = 0, NULL,
     round(100 * (1 - avgIf(Value, MetricName = 'system.memory.utilization' AND {state} = 'free')), 3)) AS memory_used_pct,
  {_mean_of_sums('system.disk.io.rate')} AS disk_bytes_per_s,
  {_mean_of_sums('system.network.io.rate')} AS network_bytes_per_s,
  if(countIf(MetricName = 'system.cpu.load_average.1m') = 0, NULL,
     round(avgIf(Value, MetricName = 'system.cpu.load_average.1m'), 3)) AS load_1m
FROM otel_metrics_gauge
WHERE {q.in_window('TimeUnix', p.window)} AND MetricName IN ({', '.join(q.lit(m) for m in METRICS)})
  AND ResourceAttributes['host.name'] != '' {'AND ' + common.eq("ResourceAttributes['host.name']", p['host']) if p['host'] else ''}
GROUP BY host, {common.bucket('TimeUnix', step)} AS t
ORDER BY host, t
LIMIT {int(p['limit'])}"""


VIEW = View(
    "hosts", "per host and interval: CPU %, memory used %, disk and network bytes/s, load",
    HostPoint, (HOST, common.INTERVAL, limit(10_000)), build,
    examples=("stackeye query hosts --host web-1 --since 6h --interval 5m",),
)
