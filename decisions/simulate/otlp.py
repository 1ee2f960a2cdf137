"""A tick of simulated traffic as OTLP: one SERVER span per request, one CPU gauge per live replica.

Timestamps are simulated (``epoch`` + the request's arrival; the gauge at the middle of the tick);
every request is one span — no sampling — so the pipeline counts, rates and percentiles exactly what
the simulator produced. Each replica is a resource with ``service.name``, ``service.instance.id``
and ``host.name``; a failed request has status ERROR and its ``http.response.status_code``; the
proxy it came through is ``client.address`` (one per simulated gateway). The gauge is
``process.cpu.utilization`` (0..1), the name the contracts give per-replica CPU.
"""
from __future__ import annotations

import datetime as dt

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from stackeye.decisions.simulate.aggregate import HOST
from stackeye.decisions.simulate.fleet import OK, Tick

CPU_GAUGE = "process.cpu.utilization"
ROUTE = "POST /checkout"


def _kv(key: str, value) -> KeyValue:
    kv = KeyValue(key=key)
    if isinstance(value, int):
        kv.value.int_value = value
    elif isinstance(value, float):
        kv.value.double_value = value
    else:
        kv.value.string_value = value
    return kv


def _ns(epoch_ns: int, seconds: float) -> int:
    return epoch_ns + int(round(seconds * 1e9))


class OtlpEncoder:
    """Numbers the spans (trace ids are a counter: deterministic and unique within a run)."""

    def __init__(self, service: str, epoch: dt.datetime):
        self.service = service
        self.epoch_ns = int(epoch.timestamp() * 1e9)
        self._serial = 0

    def _resource(self, resource, instance: str) -> None:
        resource.attributes.extend([_kv("service.name", self.service), _kv("service.instance.id", instance),
                                    _kv("host.name", HOST)])

    def spans(self, tick: Tick) -> ExportTraceServiceRequest:
        req = ExportTraceServiceRequest()
        for i, instance in enumerate(tick.instances):
            idx = (tick.replica == i).nonzero()[0]
            if not idx.size:
                continue
            rs = req.resource_spans.add()
            self._resource(rs.resource, instance)
            ss = rs.scope_spans.add()
            ss.scope.name = "stackeye.decisions.simulate"
            for j in idx.tolist():
                self._serial += 1
                status = int(tick.status[j])
                start = _ns(self.epoch_ns, float(tick.time[j]))
                span = ss.spans.add(trace_id=self._serial.to_bytes(16, "big"), span_id=self._serial.to_bytes(8, "big"),
                                    name=ROUTE, kind=Span.SPAN_KIND_SERVER, start_time_unix_nano=start,
                                    end_time_unix_nano=start + int(float(tick.latency_ms[j]) * 1e6))
                span.attributes.extend([_kv("http.request.method", "POST"), _kv("http.route", "/checkout"),
                                        _kv("http.response.status_code", status),
                                        _kv("client.address", f"proxy-{int(tick.proxy[j])}")])
                if status != OK:
                    span.status.code = Status.STATUS_CODE_ERROR
                    span.status.message = f"HTTP {status}"
        return req

    def gauges(self, tick: Tick) -> ExportMetricsServiceRequest:
        req = ExportMetricsServiceRequest()
        at = _ns(self.epoch_ns, tick.t0 + tick.dt / 2)
        for instance, live, cpu in zip(tick.instances, tick.live, tick.cpu):
            if not live:
                continue
            rm = req.resource_metrics.add()
            self._resource(rm.resource, instance)
            metric = rm.scope_metrics.add().metrics.add(name=CPU_GAUGE, unit="1",
                                                        description="CPU time / wall time / CPUs available")
            metric.gauge.data_points.add(time_unix_nano=at, start_time_unix_nano=at, as_double=float(cpu))
        return req
