"""OTLP the decision tests feed: spans of named replicas, CPU and lag gauges, with exact values.

``Spans`` builds one ExportTraceServiceRequest per replica (resource ``service.name``,
``service.instance.id``, ``host.name``); durations, HTTP status and peer are per span, so a test
knows every answer (count, p95, slow calls, consecutive 5xx) in advance.
"""
from __future__ import annotations

import datetime as dt
import itertools
import os

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from stackeye.core.signals import Signal

from .otlp_builders import add_attrs

SERVER, CLIENT = 2, 3
_tokens = itertools.count()


def ns(t: dt.datetime) -> int:
    return int(t.timestamp() * 1e9)


def spans(service: str, instance: str, start: dt.datetime, durations_ms, *, host: str = "h1", kind: int = SERVER,
          status=None, error=None, peer: str | None = None, step_s: float = 0.1, attrs: dict | None = None):
    """One request of spans: span i starts at start + i × step_s and lasts durations_ms[i];
    ``status[i]`` its http.response.status_code, ``error[i]`` (default: status ≥ 500) its Error status."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    res = {"service.name": service, "host.name": host}
    if instance:
        res["service.instance.id"] = instance
    add_attrs(rs.resource.attributes, res)
    ss = rs.scope_spans.add()
    ss.scope.name = "tests"
    for i, d in enumerate(durations_ms):
        s = ss.spans.add()
        s.trace_id, s.span_id = os.urandom(16), os.urandom(8)
        s.name = "GET /x" if kind == SERVER else "GET"
        s.kind = kind
        s.start_time_unix_nano = ns(start) + int(i * step_s * 1e9)
        s.end_time_unix_nano = s.start_time_unix_nano + int(d * 1e6)
        a = dict(attrs or {})
        code = status[i] if status else 200
        a["http.response.status_code"] = code
        if peer:
            host_, _, port = peer.partition(":")
            a["server.address"], a["server.port"] = host_, int(port)
        add_attrs(s.attributes, a)
        failed = error[i] if error else code >= 500
        if failed:
            s.status.code = 2
    return req


def gauge(service: str, instance: str, metric: str, points, *, host: str = "h1", attrs: dict | None = None):
    """points: [(time, value)] of one gauge of one replica."""
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    res = {"service.name": service, "host.name": host}
    if instance:
        res["service.instance.id"] = instance
    add_attrs(rm.resource.attributes, res)
    m = rm.scope_metrics.add().metrics.add()
    m.name = metric
    for t, v in points:
        p = m.gauge.data_points.add()
        p.time_unix_nano = ns(t)
        p.as_double = float(v)
        add_attrs(p.attributes, attrs or {})
    return req


def insert(storage, *requests) -> None:
    for req in requests:
        signal = Signal.TRACES if isinstance(req, ExportTraceServiceRequest) else Signal.METRICS
        storage.insert_otlp(signal, [req.SerializeToString()], f"decision-test-{os.getpid()}-{next(_tokens)}")
