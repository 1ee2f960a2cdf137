"""timeseries: a view as a per-interval series for charts.

``of`` picks the question: ``services``, ``transactions``, ``servers`` (per host), ``external``,
``database`` — calls, errors, error rate, rate, avg and p95 per interval, for the ``series``
busiest keys; ``errors``: error spans per interval by service and exception type (``calls`` and
``errors`` both count them); ``logs``: log records per interval by service and severity (``calls``
all, ``errors`` those of severity ERROR and above); or ``metric``: the mean of one metric
(``metric=system.cpu.utilization``) per interval and host/instance. The interval is chosen from the range (about 60 points) unless given.
Span series are served from the rollups (1 h rows only when the interval is whole hours)."""
from __future__ import annotations

import dataclasses

from stackeye.query.views import common, rollups
from stackeye.query.views import sql as q
from stackeye.query.views.base import View
from stackeye.query.views.params import HOST, SERVICE, Param, ParamError, Params


@dataclasses.dataclass(frozen=True)
class Point:
    time: str  # RFC 3339, start of the interval
    series: str  # the key: service, "service route", host, "service peer", "service statement", instance
    calls: int | None
    errors: int | None
    error_rate: float | None
    rate_per_s: float | None
    avg_ms: float | None
    p95_ms: float | None
    value: float | None  # of=metric: the metric's mean


OF = Param("of", "choice", "services", "what to chart",
           choices=("services", "transactions", "servers", "external", "database", "errors", "logs", "metric"))
METRIC = Param("metric", help="of=metric: the metric name, e.g. system.cpu.utilization, redis.clients.connected")
SERIES = Param("series", "int", 10, "how many series (the busiest)", minimum=1, maximum=200)

# of -> (rollup, series expression over its keys, entry spans only)
_SPAN = {
    "services": (rollups.RED, "toString(ServiceName)", True),
    "transactions": (rollups.RED, "concat(ServiceName, ' ', Route)", True),
    "servers": (rollups.RED, "toString(HostName)", True),
    "external": (rollups.EXTERNAL, "concat(ServiceName, ' ', Peer)", False),
    "database": (rollups.DATABASE, "concat(ServiceName, ' ', Statement)", False),
}


def _metric(p: Params, step: int) -> str:
    if not p["metric"]:
        raise ParamError("metric", "required when of=metric")
    inst = "if(Attributes['server.address'] != '', Attributes['server.address'], ResourceAttributes['host.name'])"
    conds = q.and_all(q.in_window("TimeUnix", p.window), f"MetricName = {q.lit(p['metric'])}",
                      common.eq("ResourceAttributes['host.name']", p["host"]))
    return f"""
SELECT {common.iso('t')} AS time, series, NULL AS calls, NULL AS errors, NULL AS error_rate, NULL AS rate_per_s,
  NULL AS avg_ms, NULL AS p95_ms, round(avg(Value), 6) AS value
FROM (SELECT TimeUnix, Value, Attributes, ResourceAttributes FROM otel_metrics_gauge WHERE {conds}
      UNION ALL SELECT TimeUnix, Value, Attributes, ResourceAttributes FROM otel_metrics_sum WHERE {conds})
GROUP BY {common.bucket('TimeUnix', step)} AS t, {inst} AS series
ORDER BY series, t
LIMIT 100000"""


def _top(series_sql: str, source: str, weight: str, n: int) -> str:
    return f"series IN (SELECT {series_sql} AS s FROM ({source}) GROUP BY s ORDER BY {weight} DESC, s LIMIT {n})"


def _errors(p: Params, step: int, use_rollups: bool) -> str:
    states = rollups.states(rollups.ERRORS, p.window, common.eq("ServiceName", p["service"]), use_rollups,
                            hours=step % 3600 == 0, minutes=step % 60 == 0)
    series = "concat(ServiceName, ' ', ExceptionType)"
    return f"""
SELECT {common.iso('t')} AS time, series, countMerge(Calls) AS calls, calls AS errors, NULL AS error_rate,
  round(calls / {step}, 6) AS rate_per_s, NULL AS avg_ms, NULL AS p95_ms, NULL AS value
FROM (SELECT *, {series} AS series FROM ({states}))
WHERE {_top(series, states, 'countMerge(Calls)', int(p['series']))}
GROUP BY {common.bucket('Bucket', step)} AS t, series
ORDER BY series, t"""


def _logs(p: Params, step: int) -> str:
    conds = q.and_all(q.in_window("Timestamp", p.window), common.eq("ServiceName", p["service"]),
                      common.eq("ResourceAttributes['host.name']", p["host"]))
    series = "concat(ServiceName, ' ', upper(SeverityText))"
    source = f"SELECT * FROM otel_logs WHERE {conds}"
    return f"""
SELECT {common.iso('t')} AS time, {series} AS series, count() AS calls,
  countIf(SeverityNumber >= 17 OR upper(SeverityText) IN ('ERROR', 'FATAL', 'CRITICAL')) AS errors,
  {q.frac('errors', 'calls')} AS error_rate, round(calls / {step}, 6) AS rate_per_s,
  NULL AS avg_ms, NULL AS p95_ms, NULL AS value
FROM otel_logs
WHERE {conds} AND {_top(series, source, 'count()', int(p['series']))}
GROUP BY {common.bucket('Timestamp', step)} AS t, series
ORDER BY series, t"""


def build(p: Params, use_rollups: bool) -> str:
    step = common.interval_seconds(p, points=30)  # 24 h → hourly points, served by the 1 h rollup
    if p["of"] == "metric":
        return _metric(p, step)
    if p["of"] == "logs":
        return _logs(p, step)
    if step % 60:
        if p["interval"]:
            raise ParamError("interval", "span series have minute resolution: use a whole number of minutes")
        step = 60
    if p["of"] == "errors":
        return _errors(p, step, use_rollups)
    rollup, series, entry = _SPAN[p["of"]]
    where = q.and_all(common.eq("ServiceName", p["service"]),
                      common.eq("HostName", p["host"]) if rollup is rollups.RED else "")
    states = rollups.states(rollup, p.window, where if where != "1" else "", use_rollups,
                            hours=step % 3600 == 0, minutes=step % 60 == 0)
    source = common.entries(states) if entry else states
    return f"""
SELECT {common.iso('t')} AS time, series, countMerge(Calls) AS calls, countIfMerge(Errors) AS errors,
  {q.frac('errors', 'calls')} AS error_rate, round(calls / {step}, 6) AS rate_per_s,
  {q.ms('sumMerge(DurationSum) / greatest(calls, 1)')} AS avg_ms,
  {q.ms('quantilesMerge(0.5, 0.95, 0.99)(DurationQ)[2]')} AS p95_ms, NULL AS value
FROM (SELECT *, {series} AS series FROM ({source}))
WHERE series IN (
  SELECT {series} AS s FROM ({source}) GROUP BY s ORDER BY countMerge(Calls) DESC, s LIMIT {int(p['series'])})
GROUP BY {common.bucket('Bucket', step)} AS t, series
ORDER BY series, t"""


VIEW = View(
    "timeseries", "any view as a per-interval series for charts (or one metric)",
    Point, (OF, SERVICE, HOST, METRIC, SERIES, common.INTERVAL), build, uses_rollups=True,
    examples=("stackeye query timeseries --of services --since 6h", "stackeye query timeseries --of metric "
              "--metric system.cpu.utilization --since 1h --interval 1m"),
)
