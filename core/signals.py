"""The three OTLP signals: their request messages, gRPC method paths and item counting."""
from __future__ import annotations

import enum

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2


class Signal(enum.IntEnum):
    """A telemetry signal. The integer value is stored in queue envelopes: never renumber."""

    TRACES = 1
    METRICS = 2
    LOGS = 3

    @property
    def request_type(self):
        return _REQUEST_TYPES[self]

    @property
    def response_type(self):
        return _RESPONSE_TYPES[self]

    @property
    def grpc_service(self) -> str:
        return _GRPC_SERVICES[self]

    @property
    def http_path(self) -> str:
        return "/v1/" + self.name.lower()

    @property
    def item_name(self) -> str:
        """What one item of this signal is called in counters and messages."""
        return {Signal.TRACES: "spans", Signal.METRICS: "data_points", Signal.LOGS: "log_records"}[self]

    @classmethod
    def parse(cls, name: str) -> "Signal":
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"unknown signal {name!r}: expected traces, metrics or logs") from None


_REQUEST_TYPES = {
    Signal.TRACES: trace_service_pb2.ExportTraceServiceRequest,
    Signal.METRICS: metrics_service_pb2.ExportMetricsServiceRequest,
    Signal.LOGS: logs_service_pb2.ExportLogsServiceRequest,
}
_RESPONSE_TYPES = {
    Signal.TRACES: trace_service_pb2.ExportTraceServiceResponse,
    Signal.METRICS: metrics_service_pb2.ExportMetricsServiceResponse,
    Signal.LOGS: logs_service_pb2.ExportLogsServiceResponse,
}
_GRPC_SERVICES = {
    Signal.TRACES: "opentelemetry.proto.collector.trace.v1.TraceService",
    Signal.METRICS: "opentelemetry.proto.collector.metrics.v1.MetricsService",
    Signal.LOGS: "opentelemetry.proto.collector.logs.v1.LogsService",
}

_METRIC_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")


def count_items(signal: Signal, request) -> int:
    """Number of spans, metric data points or log records in a parsed request (per scope, not per item)."""
    if signal is Signal.TRACES:
        return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    if signal is Signal.LOGS:
        return sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)
    total = 0
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                if kind is not None:
                    total += len(getattr(metric, kind).data_points)
    return total
