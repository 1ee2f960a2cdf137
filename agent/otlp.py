"""Build OTLP export requests from agent data, and the host's resource attributes."""
from __future__ import annotations

import os
import platform
import socket
import uuid
from typing import Iterable, Mapping

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from stackeye.core.version import __version__

from .model import Point

SCOPE = "stackeye.agent"

# OTel severity numbers (logs data model) by the words log lines use.
SEVERITY_NUMBERS = {
    "TRACE": 1, "DEBUG": 5, "INFO": 9, "NOTICE": 10, "WARN": 13, "WARNING": 13,
    "ERROR": 17, "ERR": 17, "CRITICAL": 21, "CRIT": 21, "FATAL": 21, "EMERG": 21, "ALERT": 21,
}


def host_id(root: str = "/") -> str:
    """The OS machine id (``/etc/machine-id``), else a stable id derived from the host name."""
    for path in ("etc/machine-id", "var/lib/dbus/machine-id"):
        try:
            with open(os.path.join(root, path)) as f:
                value = f.read().strip()
            if value:
                return value
        except OSError:
            pass
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, socket.gethostname()))


def os_type() -> str:
    """OTel ``os.type``: linux, darwin, windows, freebsd ..."""
    return platform.system().lower() or "unknown"


def host_resource(extra: Mapping[str, str] | None = None, root: str = "/") -> dict[str, str]:
    attrs = {
        "host.name": socket.gethostname(),
        "host.id": host_id(root),
        "os.type": os_type(),
        "host.arch": platform.machine(),
    }
    attrs.update(extra or {})
    return attrs


def _kv(attrs: Mapping[str, object]) -> list[KeyValue]:
    out = []
    for k, v in attrs.items():
        if isinstance(v, bool):
            av = AnyValue(bool_value=v)
        elif isinstance(v, int):
            av = AnyValue(int_value=v)
        elif isinstance(v, float):
            av = AnyValue(double_value=v)
        else:
            av = AnyValue(string_value=str(v))
        out.append(KeyValue(key=k, value=av))
    return out


def metrics_request(resource: Mapping[str, str], points: Iterable[Point], time_s: float,
                    scope: str = SCOPE) -> ExportMetricsServiceRequest:
    """One request: per resource (the host's, plus each point's own attributes), one scope and one
    Metric per name (its points as data points)."""
    req = ExportMetricsServiceRequest()
    t_ns = int(time_s * 1e9)
    groups: dict[tuple, tuple[object, dict[str, metrics_pb2.Metric]]] = {}
    for p in points:
        key = tuple(sorted(p.resource.items()))
        if key not in groups:
            rm = req.resource_metrics.add()
            rm.resource.attributes.extend(_kv({**resource, **p.resource}))
            sm = rm.scope_metrics.add()
            sm.scope.name, sm.scope.version = scope, __version__
            groups[key] = (sm, {})
        sm, by_name = groups[key]
        m = by_name.get(p.name)
        if m is None:
            m = sm.metrics.add(name=p.name, unit=p.unit)
            if p.kind == "sum":
                m.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
                m.sum.is_monotonic = p.monotonic
            elif p.kind == "histogram":
                m.histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
            by_name[p.name] = m
        if p.kind == "histogram":
            dp = m.histogram.data_points.add(count=p.count, sum=p.value)
            dp.explicit_bounds.extend(p.bounds)
            dp.bucket_counts.extend(p.buckets)
        else:
            dp = m.sum.data_points.add() if p.kind == "sum" else m.gauge.data_points.add()
            dp.as_double = p.value
        dp.time_unix_nano = t_ns
        if p.start is not None:
            dp.start_time_unix_nano = int(p.start * 1e9)
        dp.attributes.extend(_kv(p.attrs))
    return req


def log_record(body: str, time_s: float, attrs: Mapping[str, object], severity: str = "") -> logs_pb2.LogRecord:
    rec = logs_pb2.LogRecord(time_unix_nano=int(time_s * 1e9), observed_time_unix_nano=int(time_s * 1e9))
    rec.body.string_value = body
    if severity:
        rec.severity_text = severity
        rec.severity_number = SEVERITY_NUMBERS.get(severity.upper(), 0)
    rec.attributes.extend(_kv(attrs))
    return rec


def logs_request(resource: Mapping[str, str], records: Iterable[logs_pb2.LogRecord],
                 scope: str = SCOPE) -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.extend(_kv(resource))
    sl = rl.scope_logs.add()
    sl.scope.name, sl.scope.version = scope, __version__
    sl.log_records.extend(records)
    return req


def add_resource_attributes(resource, attrs: Mapping[str, str]) -> None:
    """Set ``attrs`` on an OTLP Resource where the sender did not set them (relay enrichment)."""
    have = {kv.key for kv in resource.attributes}
    resource.attributes.extend(_kv({k: v for k, v in attrs.items() if k not in have}))
