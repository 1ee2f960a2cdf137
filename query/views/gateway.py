"""gateway: the edges of the system — edge services (entry spans without a parent: requests from
outside) and nginx instances (agent metrics) — with requests, request rate, 4xx and 5xx rates
(``http.response.status_code``) and upstream latency (the non-database calls the edge makes, avg
and p95). Services from the ``red`` and ``external`` rollups; nginx from ``nginx.requests`` (its
increase over the window). nginx's stub_status has no status codes or latency: those are None.
"""
from __future__ import annotations

import dataclasses

from stackeye.query.views import rollups
from stackeye.query.views import sql as q
from stackeye.query.views.base import View
from stackeye.query.views.params import Params, limit


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
    red = rollups.states(rollups.RED, w, "EntryClass = 1 AND IsRoot = 1", use_rollups)
    edges = rollups.states(rollups.EXTERNAL, w, "", use_rollups)
    return f"""
SELECT * FROM (
  SELECT e.service AS gateway, 'service' AS kind, e.requests AS requests,
    round(e.requests / {w.seconds}, 6) AS rate_per_s, e.s4 AS status_4xx_rate, e.s5 AS status_5xx_rate,
    e.p95_ms AS p95_ms, u.avg_ms AS upstream_avg_ms, u.p95_ms AS upstream_p95_ms
  FROM (
    SELECT ServiceName AS service, countMerge(Calls) AS requests,
      {q.frac('countIfMerge(Status4xx)', 'requests')} AS s4, {q.frac('countIfMerge(Status5xx)', 'requests')} AS s5,
      {q.ms('quantilesMerge(0.5, 0.95, 0.99)(DurationQ)[2]')} AS p95_ms
    FROM ({red}) GROUP BY ServiceName
  ) AS e
  LEFT JOIN (
    SELECT ServiceName AS service, {q.ms('sumMerge(DurationSum) / countMerge(Calls)')} AS avg_ms,
      {q.ms('quantilesMerge(0.5, 0.95, 0.99)(DurationQ)[2]')} AS p95_ms
    FROM ({edges}) GROUP BY ServiceName
  ) AS u ON u.service = e.service
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
    GatewayRow, (limit(),), build, uses_rollups=True,
    examples=("stackeye query gateway --since 1h",),
)
