"""middleware: per nginx/redis/mysql/postgresql/kafka/jvm instance, its key series summarized
over the window — last, mean, min, max of each metric the agent's collector sends (gauges, and
cumulative sums as their increase). The instance is the metric's ``server.address`` attribute
(else the host). ``stackeye query timeseries --of metric --metric NAME`` charts one of them."""
from __future__ import annotations

import dataclasses

from stackeye.query.views import common
from stackeye.query.views import sql as q
from stackeye.query.views.base import View
from stackeye.query.views.params import HOST, OFFSET, Param, Params, limit

KINDS = ("nginx", "redis", "mysql", "postgresql", "kafka", "jvm", "tomcat")


@dataclasses.dataclass(frozen=True)
class MiddlewareRow:
    middleware: str
    instance: str
    host: str
    metric: str
    kind: str  # gauge | sum (a cumulative counter: last is its value, increase the change in the window)
    last: float
    avg: float
    min: float
    max: float
    increase: float | None
    points: int


MIDDLEWARE = Param("middleware", "choice", None, "only this kind of middleware", choices=KINDS)
INSTANCE = Param("instance", help="only this instance (server.address)")

INSTANCE_EXPR = "if(Attributes['server.address'] != '', Attributes['server.address'], ResourceAttributes['host.name'])"


def build(p: Params, use_rollups: bool) -> str:
    kinds = [p["middleware"]] if p["middleware"] else list(KINDS)
    prefix = " OR ".join(f"startsWith(MetricName, {q.lit(k + '.')})" for k in kinds)
    conds = q.and_all(q.in_window("TimeUnix", p.window), prefix,
                      common.eq("ResourceAttributes['host.name']", p["host"]))
    inst = f"WHERE instance = {q.lit(p['instance'])}" if p["instance"] else ""
    parts = []
    for table, kind, increase in (("otel_metrics_gauge", "gauge", "CAST(NULL AS Nullable(Float64))"),
                                  ("otel_metrics_sum", "sum", "round(greatest(argMax(Value, TimeUnix) - argMin(Value, TimeUnix), 0), 4)")):
        parts.append(f"""
  SELECT splitByChar('.', MetricName)[1] AS middleware, {INSTANCE_EXPR} AS instance,
    any(ResourceAttributes['host.name']) AS host, MetricName AS metric, '{kind}' AS kind,
    round(argMax(Value, TimeUnix), 4) AS last, round(avg(Value), 4) AS avg, round(min(Value), 4) AS min,
    round(max(Value), 4) AS max, {increase} AS increase, count() AS points
  FROM {table} WHERE {conds}
  GROUP BY middleware, instance, metric""")
    return f"""
SELECT * FROM ({' UNION ALL '.join(parts)})
{inst}
ORDER BY middleware, instance, metric
LIMIT {int(p['limit'])} OFFSET {int(p['offset'])}"""


VIEW = View(
    "middleware", "per middleware instance: last/mean/min/max of each of its metrics",
    MiddlewareRow, (MIDDLEWARE, INSTANCE, HOST, limit(1000), OFFSET), build,
    examples=("stackeye query middleware --middleware redis --since 1h",),
)
