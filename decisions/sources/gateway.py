"""Routing source ``gateway``: the servers of an upstream as gateways' access logs report them.

The agent's access-log collectors (``nginx_access``, ``haproxy_access``) report, per gateway,
upstream (nginx ``$proxy_host``, HAProxy backend) and server (``server.address``: nginx's
``host:port``, HAProxy's server name): ``gateway.upstream.requests`` by status,
``gateway.upstream.duration`` and ``gateway.upstream.consecutive_5xx``. This source pools them over
every gateway that reports the upstream, so routing works for upstreams that send no spans:

- requests, 5xx (= errors): the increase of the sums over the window (each retry an attempt of its own);
- mean and p95 latency: the duration histograms' increase, added up over gateways, p95
  interpolated within its bucket;
- slow calls: observations above ``settings.slow_call_ms``, the bucket holding the threshold
  counted by linear interpolation (observations assumed spread evenly within a bucket);
- consecutive 5xx: the latest gauge value in the window, the largest over gateways (each gateway
  counts the run of 5xx it saw; the worst view wins, as a proxy that ejects on its own would);
- callers: the gateways (name and host) whose view is pooled;
- host: the host of a ``host:port`` address ("" for HAProxy's server names and unix sockets).
"""
from __future__ import annotations

from stackeye.decisions.model import ServerLoad
from stackeye.query.views import cumulative
from stackeye.query.views import sql as q
from stackeye.query.views.params import Window

SOURCE = "gateway"
KEYS = {"gateway": "ServiceName", "host": "ResourceAttributes['host.name']",
        "server": "Attributes['server.address']"}


def address_host(server: str) -> str:
    """``10.0.0.1:80`` → ``10.0.0.1``, ``[::1]:80`` → ``::1``; "" when the server is no host:port."""
    host, sep, port = server.rpartition(":")
    if not sep or not port.isdigit() or server.startswith("unix:"):
        return ""
    return host.strip("[]")


def _rows(source, sql: str) -> list[dict]:
    res = source.query(sql)
    return [dict(zip(res.columns, r)) for r in res.rows]


def server_loads(source, upstream: str, settings, window: Window) -> list[ServerLoad]:
    """One :class:`ServerLoad` per server of ``upstream`` seen by any gateway in ``window``."""
    where = f"Attributes['gateway.upstream'] = {q.lit(upstream)}"
    keyed = {**KEYS, "status": "Attributes['http.response.status_code']"}
    counts = cumulative.increases("sum", _rows(source, cumulative.series_sql(
        "sum", "gateway.upstream.requests", window, keyed, where)), ("server", "gateway", "host", "status"))
    durations = cumulative.increases("histogram", _rows(source, cumulative.series_sql(
        "histogram", "gateway.upstream.duration", window, KEYS, where)), ("server", "gateway", "host"))
    latest = _rows(source, f"""
SELECT Attributes['server.address'] AS server, argMax(Value, TimeUnix) AS value
FROM otel_metrics_gauge
WHERE MetricName = 'gateway.upstream.consecutive_5xx' AND {where} AND {q.in_window('TimeUnix', window)}
GROUP BY server, ServiceName, ResourceAttributes['host.name']""")
    run_5xx: dict[str, int] = {}
    for r in latest:
        run_5xx[r["server"]] = max(run_5xx.get(r["server"], 0), int(r["value"]))
    threshold_s = float(settings.slow_call_ms) / 1000
    out = []
    for server in sorted({k[0] for k in counts}):
        by_status: dict[int, float] = {}
        for k, v in counts.items():
            if k[0] == server:
                by_status[int(k[3] or 0)] = by_status.get(int(k[3] or 0), 0.0) + v["value"]
        callers = {k[1:3] for k in counts if k[0] == server}
        requests = int(round(sum(by_status.values())))
        n5xx = int(round(sum(v for s, v in by_status.items() if 500 <= s < 600)))
        hist = cumulative.merge(h for k, h in durations.items() if k[0] == server)
        measured = hist is not None and hist["count"] > 0
        out.append(ServerLoad(
            upstream=upstream, server=server, source=SOURCE, requests=requests, errors=n5xx, status_5xx=n5xx,
            slow_calls=int(round(cumulative.count_above(hist["bounds"], hist["buckets"], threshold_s))) if measured else 0,
            mean_ms=round(hist["sum"] / hist["count"] * 1000, 3) if measured else None,
            p95_ms=round(cumulative.quantile(hist["bounds"], hist["buckets"], 0.95) * 1000, 3) if measured else None,
            consecutive_5xx=run_5xx.get(server, 0), callers=len(callers), host=address_host(server)))
    return out
