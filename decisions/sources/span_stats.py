"""What the span-based routing sources measure per server, over the raw spans of the window.

Both ``instances`` (SERVER spans, per replica) and ``peers`` (callers' CLIENT spans, per
``host:port``) aggregate the same way; only which spans and what names a server differ. Raw
spans, not rollups: the routing window is short (tens of seconds) and two of the numbers need
the spans themselves — calls slower than the policy's ``slow_call_ms``, and the failures in a row
at the end of the window (``consecutive_5xx``: responses ≥ 500, and calls that failed without a
response, as Envoy counts a connection failure).
"""
from __future__ import annotations

from stackeye.decisions.model import ServerLoad
from stackeye.query.views import sql as q
from stackeye.query.views.params import Window

STATUS = q.HTTP_STATUS
FAILED = f"(({q.IS_ERROR}) OR {STATUS} >= 500)"
BAD = f"({STATUS} >= 500 OR ({STATUS} = 0 AND {q.IS_ERROR}))"


def server_stats_sql(server: str, host: str, callers: str, where: str, window: Window, slow_call_ms: float) -> str:
    """One row per server: requests, errors, 5xx, slow calls, mean/p95 ms, consecutive failures, callers."""
    slow_ns = int(float(slow_call_ms) * 1e6)
    return f"""
SELECT server, host, requests, errors, status_5xx, slow_calls, mean_ms, p95_ms,
  arrayCount(t -> t > last_ok, bad_times) AS consecutive_5xx, callers
FROM (
  SELECT {server} AS server, any({host}) AS host, count() AS requests, countIf({FAILED}) AS errors,
    countIf({STATUS} >= 500) AS status_5xx, countIf(Duration > {slow_ns}) AS slow_calls,
    {q.ms('avg(Duration)')} AS mean_ms, {q.ms('quantile(0.95)(Duration)')} AS p95_ms,
    maxIf(Timestamp, NOT {BAD}) AS last_ok, groupArrayIf(Timestamp, {BAD}) AS bad_times,
    greatest({callers}, 1) AS callers
  FROM otel_traces
  WHERE {q.and_all(q.in_window('Timestamp', window), where)}
  GROUP BY server)
WHERE server != ''
ORDER BY server"""


def server_loads(storage, sql: str, upstream: str, source: str) -> list[ServerLoad]:
    result = storage.query(sql)
    out = []
    for row in result.rows:
        r = dict(zip(result.columns, row))
        out.append(ServerLoad(
            upstream=upstream, server=r["server"], source=source, requests=int(r["requests"]),
            errors=int(r["errors"]), status_5xx=int(r["status_5xx"]), slow_calls=int(r["slow_calls"]),
            mean_ms=float(r["mean_ms"]), p95_ms=float(r["p95_ms"]), consecutive_5xx=int(r["consecutive_5xx"]),
            callers=int(r["callers"]), host=r["host"]))
    return out
