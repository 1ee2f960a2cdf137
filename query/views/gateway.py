"""gateway: the edges of the system — edge services (entry spans without a parent: requests from
outside) and gateways (nginx, HAProxy: agent metrics) — with requests, request rate, 4xx and 5xx
rates (``http.response.status_code``), latency (p95) and upstream latency (avg and p95).

- Services: the ``red`` and ``external`` rollups (upstream latency: the non-database calls the
  edge makes).
- Gateways whose access log the agent reads (``nginx_access``, ``haproxy_access``): one row per
  gateway name (resource ``service.name``), from the increase over the window of
  ``gateway.requests`` (by status), ``gateway.request.duration`` (p95) and
  ``gateway.upstream.duration`` (every upstream attempt: avg and p95); percentiles are
  interpolated within histogram buckets (:mod:`.cumulative`).
- nginx with only stub_status (``nginx.requests``, keyed by its status URL): requests and rate;
  stub_status has no status codes or latency, so those are None. It is the fallback: on a host
  whose agent reads an nginx access log, its stub_status row is left out.
"""
from __future__ import annotations

import dataclasses

from stackeye.query.views import cumulative, rollups
from stackeye.query.views import sql as q
from stackeye.query.views.base import View
from stackeye.query.views.params import Params, limit


@dataclasses.dataclass(frozen=True)
class GatewayRow:
    gateway: str  # service name, gateway name (access log), or nginx's stub_status address
    kind: str  # service | nginx | haproxy
    requests: int
    rate_per_s: float
    status_4xx_rate: float | None
    status_5xx_rate: float | None
    p95_ms: float | None
    upstream_avg_ms: float | None
    upstream_p95_ms: float | None


GATEWAY = {"gateway": "ServiceName", "kind": "Attributes['gateway.kind']", "host": "ResourceAttributes['host.name']"}


def build(p: Params, use_rollups: bool) -> list[str]:
    w = p.window
    red = rollups.states(rollups.RED, w, "EntryClass = 1 AND IsRoot = 1", use_rollups)
    edges = rollups.states(rollups.EXTERNAL, w, "", use_rollups)
    services = f"""
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
ORDER BY requests DESC, gateway
LIMIT {int(p['limit'])}"""
    stub_status = f"""
SELECT Attributes['server.address'] AS gateway, 'nginx' AS kind,
  toUInt64(greatest(argMax(Value, TimeUnix) - argMin(Value, TimeUnix), 0)) AS requests,
  any(ResourceAttributes['host.name']) AS host
FROM otel_metrics_sum
WHERE {q.in_window('TimeUnix', w)} AND MetricName = 'nginx.requests'
GROUP BY gateway"""
    status = {**GATEWAY, "status": "Attributes['http.response.status_code']"}
    return [services, stub_status,
            cumulative.series_sql("sum", "gateway.requests", w, status),
            cumulative.series_sql("histogram", "gateway.request.duration", w, GATEWAY),
            cumulative.series_sql("histogram", "gateway.upstream.duration", w, GATEWAY)]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def shape(results: list[list[dict]], p: Params) -> tuple[list[dict], dict]:
    services, stub_status, statuses, own, upstream = results
    seconds = p.window.seconds
    keys = ("gateway", "kind")
    by_status = cumulative.increases("sum", statuses, keys + ("status",))
    own_h = cumulative.increases("histogram", own, keys)
    up_h = cumulative.increases("histogram", upstream, keys)
    access_hosts = {(r["host"], r["kind"]) for r in statuses}
    rows = list(services)
    for key in sorted({k[:2] for k in by_status}):
        counts = {int(s or 0): v["value"] for (g, k, s), v in by_status.items() if (g, k) == key}
        total = sum(counts.values())
        n4 = sum(v for s, v in counts.items() if 400 <= s < 500)
        n5 = sum(v for s, v in counts.items() if 500 <= s < 600)
        h, u = own_h.get(key), up_h.get(key)
        rows.append({"gateway": key[0], "kind": key[1], "requests": int(total),
                     "rate_per_s": round(total / seconds, 6),
                     "status_4xx_rate": round(n4 / total, 6) if total else 0.0,
                     "status_5xx_rate": round(n5 / total, 6) if total else 0.0,
                     "p95_ms": _ms(cumulative.quantile(h["bounds"], h["buckets"], 0.95)) if h else None,
                     "upstream_avg_ms": _ms(u["sum"] / u["count"]) if u and u["count"] else None,
                     "upstream_p95_ms": _ms(cumulative.quantile(u["bounds"], u["buckets"], 0.95)) if u else None})
    for r in stub_status:
        if (r["host"], "nginx") not in access_hosts:
            rows.append({"gateway": r["gateway"], "kind": "nginx", "requests": int(r["requests"]),
                         "rate_per_s": round(int(r["requests"]) / seconds, 6), "status_4xx_rate": None,
                         "status_5xx_rate": None, "p95_ms": None, "upstream_avg_ms": None, "upstream_p95_ms": None})
    rows.sort(key=lambda r: (-r["requests"], r["gateway"]))
    return rows[:int(p["limit"])], {}


VIEW = View(
    "gateway", "edge services and gateways (nginx, HAProxy): requests, 4xx/5xx rates, latency, upstream latency",
    GatewayRow, (limit(),), build, shape, uses_rollups=True,
    examples=("stackeye query gateway --since 1h",),
)
