"""Self-metrics into ClickHouse: the pipeline's own health as OTLP metrics of service ``stackeye``.

The counters of :class:`~stackeye.collector.telemetry.PipelineMetrics` live in the process and
are served at ``GET /metrics``; a trigger rule, which measures in SQL, cannot see them there.
:meth:`SelfMetricsWriter.write` turns three of them into OTLP points and inserts them through the
storage's ordinary OTLP path (the ``otel_metrics_*`` tables, with a dedup token):

- ``stackeye.queue.bytes`` (gauge, By): what waits in the durable queue for the writer;
- ``stackeye.ingest.rejected_requests`` (sum, delta, monotonic; attributes ``signal``, ``reason``):
  OTLP requests refused since the previous write;
- ``stackeye.writer.dead_letter_records`` (sum, delta, monotonic; attribute ``signal``): records
  the storage refused for good since the previous write.

Deltas, not the process's running totals, so a sum over any window is what happened in it and a
restart (counters back at 0) needs no reset handling. The previous totals move on only once an
insert succeeded: a failed write is carried into the next one. ``stackeye up --triggers`` writes
at the start of every trigger round (:class:`stackeye.app.triggers.TriggerService`), which is
what the ``stackeye_health`` template reads.
"""
from __future__ import annotations

import datetime as dt
import os
import socket

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AGGREGATION_TEMPORALITY_DELTA
from stackeye.core.signals import Signal

SERVICE = "stackeye"
QUEUE_BYTES = "stackeye.queue.bytes"
REJECTED_REQUESTS = "stackeye.ingest.rejected_requests"
DEAD_LETTERS = "stackeye.writer.dead_letter_records"


def _ns(t: dt.datetime) -> int:
    return int(t.timestamp() * 1e9)


def _totals(counter) -> dict[tuple[tuple[str, str], ...], float]:
    """label set → running total of a prometheus Counter."""
    return {tuple(sorted(s.labels.items())): s.value for m in counter.collect() for s in m.samples
            if s.name.endswith("_total")}


class SelfMetricsWriter:
    def __init__(self, storage, metrics, queue_bytes, instance: str | None = None,
                 started: dt.datetime | None = None):
        """``metrics``: the process's PipelineMetrics; ``queue_bytes()``: the queue's depth in bytes."""
        self.storage, self.metrics, self.queue_bytes = storage, metrics, queue_bytes
        self.host = socket.gethostname()
        self.instance = instance or f"{self.host}:{os.getpid()}"
        self._last_at = started or dt.datetime.now(dt.timezone.utc)
        self._last = {REJECTED_REQUESTS: {}, DEAD_LETTERS: {}}
        self.writes = 0

    def request(self, at: dt.datetime) -> tuple[ExportMetricsServiceRequest, dict]:
        """The OTLP request of the points at ``at``, and the totals it brings the baseline to."""
        req = ExportMetricsServiceRequest()
        rm = req.resource_metrics.add()
        for key, value in (("service.name", SERVICE), ("service.instance.id", self.instance), ("host.name", self.host)):
            kv = rm.resource.attributes.add()
            kv.key, kv.value.string_value = key, value
        scope = rm.scope_metrics.add()
        scope.scope.name = "stackeye.collector.self_metrics"
        gauge = scope.metrics.add()
        gauge.name, gauge.unit, gauge.description = QUEUE_BYTES, "By", "bytes in the durable queue"
        point = gauge.gauge.data_points.add()
        point.time_unix_nano, point.as_double = _ns(at), float(self.queue_bytes())
        totals = {REJECTED_REQUESTS: _totals(self.metrics.rejected_requests),
                  DEAD_LETTERS: _totals(self.metrics.dead_letters)}
        for name, unit, what in ((REJECTED_REQUESTS, "{request}", "OTLP requests refused"),
                                 (DEAD_LETTERS, "{record}", "records the storage refused for good")):
            metric = scope.metrics.add()
            metric.name, metric.unit, metric.description = name, unit, f"{what} since the previous point"
            metric.sum.aggregation_temporality, metric.sum.is_monotonic = AGGREGATION_TEMPORALITY_DELTA, True
            for labels, total in sorted(totals[name].items()):
                p = metric.sum.data_points.add()
                p.start_time_unix_nano, p.time_unix_nano = _ns(self._last_at), _ns(at)
                p.as_double = total - self._last[name].get(labels, 0.0)
                for key, value in labels:
                    kv = p.attributes.add()
                    kv.key, kv.value.string_value = key, value
        return req, totals

    def write(self, at: dt.datetime) -> None:
        """Insert the points at ``at`` (storage errors propagate; the next write carries the deltas)."""
        req, totals = self.request(at)
        self.storage.insert_otlp(Signal.METRICS, [req.SerializeToString()], f"self-metrics-{self.instance}-{_ns(at)}")
        self._last, self._last_at = totals, at
        self.writes += 1
