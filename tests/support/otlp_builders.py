"""Build OTLP export requests by hand for tests (exact control over every field)."""
from __future__ import annotations

import os
import time

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)


def set_value(any_value, value) -> None:
    if isinstance(value, bool):
        any_value.bool_value = value
    elif isinstance(value, int):
        any_value.int_value = value
    elif isinstance(value, float):
        any_value.double_value = value
    elif isinstance(value, bytes):
        any_value.bytes_value = value
    elif isinstance(value, (list, tuple)):
        arr = any_value.array_value
        for v in value:
            set_value(arr.values.add(), v)
    elif isinstance(value, dict):
        kvl = any_value.kvlist_value
        for k, v in value.items():
            set_value(kvl.values.add(key=k).value, v)
    else:
        any_value.string_value = value


def add_attrs(repeated, attrs: dict) -> None:
    for key, value in attrs.items():
        set_value(repeated.add(key=key).value, value)


def spans_request(service: str, n: int, *, attrs: dict | None = None, start_ns: int | None = None,
                  name: str = "op", kind: int = 2, ids: list[bytes] | None = None) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    add_attrs(rs.resource.attributes, {"service.name": service, "host.name": "test-host"})
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = "tests", "1.0"
    start = start_ns or time.time_ns()
    for i in range(n):
        s = ss.spans.add()
        s.trace_id = os.urandom(16)
        s.span_id = ids[i] if ids else os.urandom(8)
        s.name = name
        s.kind = kind
        s.start_time_unix_nano = start + i
        s.end_time_unix_nano = start + i + 1_000_000 * (i % 50 + 1)
        add_attrs(s.attributes, attrs or {"i": i})
    return req


def logs_request(service: str, bodies: list) -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    add_attrs(rl.resource.attributes, {"service.name": service})
    sl = rl.scope_logs.add()
    now = time.time_ns()
    for i, body in enumerate(bodies):
        r = sl.log_records.add()
        r.time_unix_nano = now + i
        r.severity_number = 9
        r.severity_text = "INFO"
        set_value(r.body, body)
    return req


def metrics_request(service: str) -> ExportMetricsServiceRequest:
    return_ = ExportMetricsServiceRequest()
    rm = return_.resource_metrics.add()
    add_attrs(rm.resource.attributes, {"service.name": service})
    return return_
