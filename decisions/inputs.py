"""What the autoscale policy reads: one :class:`~stackeye.decisions.model.ServiceLoad` per service.

:func:`service_loads` answers for every service at once, as of the window's end, in at most four
statements whatever the number of services and replicas (one evaluation of 50 services × 20
replicas stays well inside its budget, see ``bench/decide_eval.py``):

1. **RED per replica and per service** — entry spans (SERVER/CONSUMER, or the root spans of a
   service without them, as the ``services`` view counts) from the ``instances`` rollup
   (``query/views/rollups.py``), grouped by service and replica *and* by service alone
   (``GROUPING SETS``), so the fleet's p95/p99 merge every replica's quantile states. A replica is
   live when it served an entry span in the window: one that stopped sending drops out.
2. **CPU per replica** — the mean of ``process.cpu.utilization`` (0..1 of the CPUs available to
   the process; ``stackeye.instrumentation`` reports it) over the window; ``cpu_pct`` = 100 × it.
3. **Kafka lag** — for the services whose policy names a ``kafka_group``: the latest
   ``kafka.consumer_group.lag_sum`` of each of the group's topics at the window's end (looking
   back :data:`LAG_LOOKBACK_S` at most), summed over topics.
4. **History** — requests/s of the same hour and of the hour after it on each of the previous
   :data:`HISTORY_DAYS` days, from the ``red`` rollup's 1 h table (what the forecast scales on);
   a day with no traffic in either hour is left out (no data is not zero traffic).
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable, Mapping

from stackeye.decisions.model import HourLoad, InstanceLoad, ServiceLoad
from stackeye.query.views import common, rollups
from stackeye.query.views import sql as q
from stackeye.query.views.params import Window

CPU_METRIC = "process.cpu.utilization"
LAG_METRIC = "kafka.consumer_group.lag_sum"
LAG_LOOKBACK_S = 300.0  # the agent reports every 15-60 s: a lag older than this is not "now"
HISTORY_DAYS = 7
HOUR = dt.timedelta(hours=1)


def _in(column: str, values: Iterable[str] | None) -> str:
    if values is None:
        return ""
    items = sorted(set(values))
    return f"{column} IN ({', '.join(q.lit(v) for v in items)})" if items else "0"


def red_sql(window: Window, services: Iterable[str] | None) -> str:
    states = rollups.states(rollups.INSTANCES, window, _in("ServiceName", services))
    return f"""
SELECT ServiceName AS service, InstanceId AS instance, any(HostName) AS host, grouping(InstanceId) AS fleet,
  countMerge(Calls) AS calls, countIfMerge(Errors) AS errors,
  {q.ms('sumMerge(DurationSum) / greatest(countMerge(Calls), 1)')} AS mean_ms,
  quantilesMerge(0.5, 0.95, 0.99)(DurationQ) AS qs
FROM ({common.entries(states)})
GROUP BY GROUPING SETS ((ServiceName, InstanceId), (ServiceName))"""


def cpu_sql(window: Window, services: Iterable[str] | None) -> str:
    where = q.and_all(f"MetricName = {q.lit(CPU_METRIC)}", q.in_window("TimeUnix", window), _in("ServiceName", services))
    # summed per reading first: an SDK that splits the gauge by state (user/system) adds up to the whole
    return f"""
SELECT service, instance, avg(value) AS cpu FROM (
  SELECT ServiceName AS service, {rollups.INSTANCE} AS instance, TimeUnix, sum(Value) AS value
  FROM otel_metrics_gauge WHERE {where} GROUP BY service, instance, TimeUnix)
GROUP BY service, instance"""


def lag_sql(at: dt.datetime, groups: Iterable[str]) -> str:
    lookback = Window(at - dt.timedelta(seconds=LAG_LOOKBACK_S), at + dt.timedelta(microseconds=1))
    where = q.and_all(f"MetricName = {q.lit(LAG_METRIC)}", q.in_window("TimeUnix", lookback),
                      _in("Attributes['group']", groups))
    return f"""
SELECT group, sum(lag) AS lag FROM (
  SELECT Attributes['group'] AS group, Attributes['topic'] AS topic, argMax(Value, TimeUnix) AS lag
  FROM otel_metrics_gauge WHERE {where} GROUP BY group, topic)
GROUP BY group"""


def history_hours(at: dt.datetime, days: int = HISTORY_DAYS) -> list[tuple[int, dt.datetime]]:
    """(days ago, start of the hour holding ``at`` that many days before) for 1..days."""
    start = at.astimezone(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    return [(d, start - dt.timedelta(days=d)) for d in range(1, days + 1)]


def history_sql(at: dt.datetime, services: Iterable[str] | None) -> str:
    buckets = [h for _, start in history_hours(at) for h in (start, start + HOUR)]
    where = q.and_all(f"Bucket IN ({', '.join(_bucket(b) for b in buckets)})", _in("ServiceName", services))
    return f"""
SELECT ServiceName AS service, toUnixTimestamp(Bucket) AS bucket, EntryClass AS entry_class, countMerge(Calls) AS calls
FROM {rollups.RED.table('1h')} WHERE {where}
GROUP BY service, bucket, entry_class"""


def _bucket(t: dt.datetime) -> str:
    return f"toDateTime('{t.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S}', 'UTC')"


def _rows(source, sql: str) -> list[dict]:
    result = source.query(sql)
    return [dict(zip(result.columns, row)) for row in result.rows]


def _ms(value) -> float | None:
    return round(float(value) / 1e6, 3) if value is not None else None


def service_loads(source, window: Window, services: Iterable[str] | None = None,
                  kafka_groups: Mapping[str, str] | None = None) -> list[ServiceLoad]:
    """Every service with entry spans in ``window`` (or exactly ``services``, those without any as
    zero replicas), as of ``window.end``. ``kafka_groups`` maps a service to its policy's
    ``kafka_group``."""
    wanted = None if services is None else sorted(set(services))
    if wanted == []:
        return []
    red = _rows(source, red_sql(window, wanted))
    cpu = {(r["service"], r["instance"]): float(r["cpu"]) for r in _rows(source, cpu_sql(window, wanted))}
    groups = {s: g for s, g in (kafka_groups or {}).items() if g}
    lag = {r["group"]: float(r["lag"]) for r in _rows(source, lag_sql(window.end, groups.values()))} if groups else {}
    fleet: dict[str, dict] = {}
    instances: dict[str, list[InstanceLoad]] = {}
    for r in red:
        if r["fleet"]:
            fleet[r["service"]] = r
            continue
        share = cpu.get((r["service"], r["instance"]))
        instances.setdefault(r["service"], []).append(InstanceLoad(
            r["instance"], r["host"], int(r["calls"]), int(r["errors"]),
            round(100.0 * share, 3) if share is not None else None))
    names = wanted if wanted is not None else sorted(fleet)
    history = _history(source, window.end, names)
    out = []
    for name in names:
        f = fleet.get(name)
        calls = int(f["calls"]) if f else 0
        qs = f["qs"] if f and calls else None
        out.append(ServiceLoad(
            service=name, at=window.end, window_s=window.seconds,
            instances=tuple(sorted(instances.get(name, ()), key=lambda i: i.instance)),
            requests=calls, errors=int(f["errors"]) if f else 0,
            mean_ms=float(f["mean_ms"]) if calls else None,
            p95_ms=_ms(qs[1]) if qs else None, p99_ms=_ms(qs[2]) if qs else None,
            kafka_lag=lag.get(groups[name]) if name in groups else None,
            history=history.get(name, ()),
        ))
    return out


def _history(source, at: dt.datetime, services: list[str]) -> dict[str, tuple[HourLoad, ...]]:
    if not services:
        return {}
    calls: dict[tuple[str, int], dict[int, int]] = {}
    for r in _rows(source, history_sql(at, services)):
        calls.setdefault((r["service"], int(r["bucket"])), {})[int(r["entry_class"])] = int(r["calls"])

    def rps(service: str, start: dt.datetime) -> float | None:
        by_class = calls.get((service, int(start.timestamp())))
        if not by_class:
            return None
        # entry spans as the services view counts them: SERVER/CONSUMER, else the root spans
        return (by_class.get(1) or by_class.get(2, 0)) / HOUR.total_seconds()

    out = {}
    for service in services:
        hours = []
        for days_ago, start in history_hours(at):
            now, ahead = rps(service, start), rps(service, start + HOUR)
            if now is None and ahead is None:
                continue
            hours.append(HourLoad(days_ago, now or 0.0, ahead or 0.0))
        if hours:
            out[service] = tuple(hours)
    return out
