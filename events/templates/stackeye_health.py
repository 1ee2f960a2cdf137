"""stackeye_health: stackeye's own pipeline in trouble — the queue filling, records dead-lettered, requests refused.

The numbers come from the process's self-metrics, which ``stackeye up --triggers`` writes into
ClickHouse at the start of every trigger round (:mod:`stackeye.collector.self_metrics`: service
``stackeye``, one instance per process) — the prometheus registry behind ``GET /metrics`` is in
the process, and a rule measures in SQL. One rule, three checks, each against its own limit; a
label set is ``check`` + ``instance``:

- ``queue_bytes``: the newest ``stackeye.queue.bytes`` in the window above ``max_queue_mb`` MiB
  (the writer falls behind, or the storage refuses inserts);
- ``dead_letters``: ``stackeye.writer.dead_letter_records`` in the window above ``max_dead_letters``;
- ``rejected_requests``: ``stackeye.ingest.rejected_requests`` (every reason: auth, size, a full
  spool) in the window above ``max_rejected``.

The SQL returns only the checks over their limit, with the measured value (bytes, records,
requests), so the rule's own comparison is ``value >= 0``; a check back under its limit is no
row, and resolves. In cluster mode the collector and writer processes do not write self-metrics
(no trigger rounds run there): read their ``/metrics`` with Prometheus instead.
"""
from __future__ import annotations

from stackeye.collector.self_metrics import DEAD_LETTERS, QUEUE_BYTES, REJECTED_REQUESTS, SERVICE
from stackeye.events.templates.base import Template, TemplateParam, number

INSTANCE = "ResourceAttributes['service.instance.id']"
WINDOW = "TimeUnix >= {from} AND TimeUnix < {to}"


def build(p) -> dict:
    max_queue = number(p, "max_queue_mb", positive=True) * (1 << 20)
    max_dead, max_rejected = number(p, "max_dead_letters"), number(p, "max_rejected")
    queue = (f"SELECT 'queue_bytes' AS check, {INSTANCE} AS instance, argMax(Value, TimeUnix) AS value, "
             f"{max_queue!r} AS limit FROM otel_metrics_gauge WHERE ServiceName = '{SERVICE}' "
             f"AND MetricName = '{QUEUE_BYTES}' AND {WINDOW} GROUP BY instance")
    counts = (f"SELECT if(MetricName = '{DEAD_LETTERS}', 'dead_letters', 'rejected_requests') AS check, "
              f"{INSTANCE} AS instance, sum(Value) AS value, if(check = 'dead_letters', {max_dead!r}, "
              f"{max_rejected!r}) AS limit FROM otel_metrics_sum WHERE ServiceName = '{SERVICE}' "
              f"AND MetricName IN ('{DEAD_LETTERS}', '{REJECTED_REQUESTS}') AND {WINDOW} GROUP BY check, instance")
    sql = f"SELECT check, instance, value FROM ({queue} UNION ALL {counts}) WHERE value > limit"
    return {"sql": sql, "op": ">=", "threshold": 0.0, "window": p["window"]}


TEMPLATE = Template(
    "stackeye_health", "stackeye's own pipeline: queue over max_queue_mb, dead letters, rejected requests",
    (TemplateParam("max_queue_mb", "1024", "the largest acceptable durable queue, in MiB (the spool holds 4096 "
                                            "by default)"),
     TemplateParam("max_dead_letters", "0", "the most records refused for good acceptable in the window"),
     TemplateParam("max_rejected", "10", "the most refused OTLP requests acceptable in the window"),
     TemplateParam("window", "5m", "the time range counted")),
    build, {"max_rejected": "0"},
)
