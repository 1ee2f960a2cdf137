"""The demo data set (:mod:`.demo_data`) as real OTLP requests: generated, and loaded into a storage.

    from stackeye.query import demo_data, demo_otlp
    records = []
    demo_otlp.load(storage, demo_data.DemoSpec(spans=100_000), keep=records)  # records: the ground truth
"""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Iterator

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from stackeye.core.signals import Signal
from stackeye.query.demo_data import (
    DemoSpec,
    HostSample,
    Log,
    MiddlewareSample,
    Span,
    host_samples,
    logs_for,
    middleware_samples,
    spans,
)


def _kv(key: str, value) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def _resource(res, service: str, host: str) -> None:
    res.attributes.extend([_kv("service.name", service), _kv("host.name", host),
                           _kv("service.instance.id", f"{service}@{host}")])


def trace_request(batch: list[Span]) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    groups: dict[tuple[str, str], list[Span]] = {}
    for s in batch:
        groups.setdefault((s.service, s.host), []).append(s)
    for (service, host), group in groups.items():
        rs = req.resource_spans.add()
        _resource(rs.resource, service, host)
        ss = rs.scope_spans.add()
        ss.scope.name = "stackeye.demo"
        for s in group:
            p = ss.spans.add(trace_id=s.trace_id, span_id=s.span_id, parent_span_id=s.parent_id, name=s.name,
                             kind=s.kind, start_time_unix_nano=s.start_ns, end_time_unix_nano=s.start_ns + s.dur_ns)
            p.attributes.extend([_kv(k, v) for k, v in s.attrs.items()])
            for name, t, attrs in s.events:
                p.events.add(name=name, time_unix_nano=t, attributes=[_kv(k, v) for k, v in attrs.items()])
            if s.status:
                p.status.code = s.status
                p.status.message = s.status_message
    return req


def log_request(batch: list[Log]) -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    groups: dict[tuple[str, str], list[Log]] = {}
    for r in batch:
        groups.setdefault((r.service, r.host), []).append(r)
    for (service, host), group in groups.items():
        rl = req.resource_logs.add()
        _resource(rl.resource, service, host)
        sl = rl.scope_logs.add()
        for r in group:
            sl.log_records.add(time_unix_nano=r.time_ns, severity_number=r.severity_number,
                               severity_text=r.severity_text, body=AnyValue(string_value=r.body),
                               trace_id=r.trace_id, span_id=r.span_id)
    return req


def metric_request(samples: list[HostSample]) -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    by_host: dict[str, list[HostSample]] = {}
    for s in samples:
        by_host.setdefault(s.host, []).append(s)
    for host, group in by_host.items():
        rm = req.resource_metrics.add()
        rm.resource.attributes.extend([_kv("host.name", host), _kv("service.name", "stackeye-agent")])
        sm = rm.scope_metrics.add()
        cpu = sm.metrics.add(name="system.cpu.utilization", unit="1")
        mem = sm.metrics.add(name="system.memory.utilization", unit="1")
        load = sm.metrics.add(name="system.cpu.load_average.1m", unit="{thread}")
        disk = sm.metrics.add(name="system.disk.io.rate", unit="By/s")
        net = sm.metrics.add(name="system.network.io.rate", unit="By/s")
        for s in group:
            for state, v in (("idle", s.cpu_idle), ("user", round(1 - s.cpu_idle, 4))):
                cpu.gauge.data_points.add(time_unix_nano=s.time_ns, as_double=v, attributes=[_kv("state", state)])
            for state, v in (("free", s.mem_free), ("used", round(1 - s.mem_free, 4))):
                mem.gauge.data_points.add(time_unix_nano=s.time_ns, as_double=v, attributes=[_kv("state", state)])
            load.gauge.data_points.add(time_unix_nano=s.time_ns, as_double=s.load_1m)
            for i, share in enumerate((0.25, 0.75)):  # two devices, two directions
                disk.gauge.data_points.add(time_unix_nano=s.time_ns, as_double=s.disk_bps * share,
                                           attributes=[_kv("device", f"sd{'ab'[i]}")])
                net.gauge.data_points.add(time_unix_nano=s.time_ns, as_double=s.net_bps * share,
                                          attributes=[_kv("direction", ("receive", "transmit")[i])])
    return req


def middleware_request(samples: list[MiddlewareSample]) -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    by_host: dict[str, list[MiddlewareSample]] = {}
    for s in samples:
        by_host.setdefault(s.host, []).append(s)
    for host, group in by_host.items():
        rm = req.resource_metrics.add()
        rm.resource.attributes.extend([_kv("host.name", host), _kv("service.name", "stackeye-agent")])
        sm = rm.scope_metrics.add()
        metrics: dict[str, object] = {}
        for s in group:
            m = metrics.get(s.metric)
            if m is None:
                m = metrics[s.metric] = sm.metrics.add(name=s.metric)
                if s.kind == "sum":
                    m.sum.aggregation_temporality = 2
                    m.sum.is_monotonic = True
            points = m.sum.data_points if s.kind == "sum" else m.gauge.data_points
            points.add(time_unix_nano=s.time_ns, as_double=s.value, attributes=[_kv("server.address", s.instance)])
    return req


def generate(spec: DemoSpec, keep: list | None = None) -> Iterator[tuple[Signal, object]]:
    """OTLP requests of every signal; when ``keep`` is a list, the Span, Log and HostSample records
    are appended to it too (the tests' ground truth)."""
    batch: list[Span] = []
    logs: list[Log] = []
    for trace in spans(spec):
        batch.extend(trace)
        if spec.logs:
            logs.extend(logs_for(trace))
        if len(batch) >= spec.batch_size:
            if keep is not None:
                keep.extend(batch)
                keep.extend(logs)
            yield Signal.TRACES, trace_request(batch)
            if logs:
                yield Signal.LOGS, log_request(logs)
            batch, logs = [], []
    if batch:
        if keep is not None:
            keep.extend(batch)
            keep.extend(logs)
        yield Signal.TRACES, trace_request(batch)
        if logs:
            yield Signal.LOGS, log_request(logs)
    samples = host_samples(spec)
    if keep is not None:
        keep.extend(samples)
    for i in range(0, len(samples), 5000):
        yield Signal.METRICS, metric_request(samples[i:i + 5000])
    middleware = middleware_samples(spec)
    if keep is not None:
        keep.extend(middleware)
    for i in range(0, len(middleware), 5000):
        yield Signal.METRICS, middleware_request(middleware[i:i + 5000])


def token(spec: DemoSpec, n: int) -> str:
    """A deduplication token per request: loading the same spec twice writes nothing twice."""
    key = f"{dataclasses.astuple(spec)}:{spec.end_time.isoformat()}:{n}"
    return "demo-" + hashlib.sha1(key.encode()).hexdigest()[:16]


def load(storage, spec: DemoSpec, keep: list | None = None, progress=None) -> int:
    """Insert the data set into a storage (``insert_otlp``); returns the number of spans written."""
    n_spans = 0
    for n, (signal, req) in enumerate(generate(spec, keep)):
        storage.insert_otlp(signal, [req.SerializeToString()], token(spec, n))
        if signal is Signal.TRACES:
            n_spans += sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
            if progress:
                progress(n_spans)
    return n_spans
