"""gateway: the edges of the system — nginx instances (agent metrics) and edge services (services
whose SERVER spans have no parent, i.e. are called from outside) — with requests, request rate,
4xx and 5xx rates (``http.response.status_code``) and upstream latency (the CLIENT calls the edge
makes, avg and p95). nginx's stub_status has no status codes or latency: those columns are None.
"""
from __future__ import annotations

import dataclasses

from stackeye.query.views import common
from stackeye.query.views import sql as q
from stackeye.query.views.base import View
from stackeye.query.views.params import Params, limit

_STATUS = "toUInt16OrZero(SpanAttributes['http.response.status_code'])"


@dataclasses.dataclass(frozen=True)
class GatewayRow:
    gateway: str  # service name, or nginx's server.address
    kind: str  # service | nginx
    requests: int
    rate_per_s: float
    status_4xx_rate: float | None
    status_5xx_rate: float | None
    p95_ms: float | None
    upstream_avg_ms: float | None
    upstream_p95_ms: float | None


def build(p: Params, use_rollups: bool) -> str:
    w = p.window
    return f"""
SELECT * FROM (
  SELECT e.ServiceName AS gateway, 'service' AS kind, e.requests AS requests,
    round(e.requests / {w.seconds}, 6) AS rate_per_s, e.s4 AS status_4xx_rate, e.s5 AS status_5xx_rate,
    e.p95_ms AS p95_ms, u.avg_ms AS upstream_avg_ms, u.p95_ms AS upstream_p95_ms
  FROM (
    SELECT ServiceName, count() AS requests,
      {q.frac(f'countIf({_STATUS} BETWEEN 400 AND 499)', 'requests')} AS s4,
      {q.frac(f'countIf({_STATUS} >= 500)', 'requests')} AS s5,
      {q.ms('quantile(0.95)(Duration)')} AS p95_ms
    FROM otel_traces
    WHERE {q.in_window('Timestamp', w)} AND {q.kinds('Server')} AND {q.IS_ROOT}
    GROUP BY ServiceName
  ) AS e
  LEFT JOIN (
    SELECT ServiceName, {q.ms('avg(Duration)')} AS avg_ms, {q.ms('quantile(0.95)(Duration)')} AS p95_ms
    FROM otel_traces
    WHERE {q.in_window('Timestamp', w)} AND {q.OUTBOUND_KIND} AND {q.DB_SYSTEM} = ''
      AND ServiceName IN (SELECT ServiceName FROM otel_traces
                          WHERE {q.in_window('Timestamp', w)} AND {q.kinds('Server')} AND {q.IS_ROOT})
    GROUP BY ServiceName
  ) AS u ON u.ServiceName = e.ServiceName
  UNION ALL
  SELECT Attributes['server.address'] AS gateway, 'nginx' AS kind,
    toUInt64(greatest(argMax(Value, TimeUnix) - argMin(Value, TimeUnix), 0)) AS requests,
    round(requests / {w.seconds}, 6) AS rate_per_s, NULL, NULL, NULL, NULL, NULL
  FROM otel_metrics_sum
  WHERE {q.in_window('TimeUnix', w)} AND MetricName = 'nginx.requests'
  GROUP BY gateway
)
ORDER BY requests DESC, gateway
LIMIT {int(p['limit'])}"""


VIEW = View(
    "gateway", "edge services and nginx: requests, 4xx/5xx rates, upstream latency",
    GatewayRow, (limit(),), build,
    examples=("stackeye query gateway --since 1h",),
)
