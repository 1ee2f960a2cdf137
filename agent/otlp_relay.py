"""The local OTLP/gRPC relay: apps on this host export to the agent (127.0.0.1:4317 by default),
the agent adds the host's resource attributes and forwards through its own queue and connection.

One connection per host to the collector instead of one per process, and the apps' data rides
the same disk buffer and retry as the agent's own when the collector is away.
"""
from __future__ import annotations

import logging
from concurrent import futures
from typing import Mapping

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs_svc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics_svc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_svc

from .otlp import add_resource_attributes
from .shipper.queue import DiskQueue

log = logging.getLogger("stackeye.agent.relay")

MAX_REQUEST_BYTES = 16 << 20  # the collector's default request limit: bigger would never be accepted

_SERVICES = {
    # signal: (service name, request class, response class, field with the resource entries)
    "traces": ("opentelemetry.proto.collector.trace.v1.TraceService", trace_svc.ExportTraceServiceRequest,
               trace_svc.ExportTraceServiceResponse, "resource_spans"),
    "metrics": ("opentelemetry.proto.collector.metrics.v1.MetricsService", metrics_svc.ExportMetricsServiceRequest,
                metrics_svc.ExportMetricsServiceResponse, "resource_metrics"),
    "logs": ("opentelemetry.proto.collector.logs.v1.LogsService", logs_svc.ExportLogsServiceRequest,
             logs_svc.ExportLogsServiceResponse, "resource_logs"),
}


def enrich(raw: bytes, signal: str, attrs: Mapping[str, str]) -> bytes:
    """Add ``attrs`` to every resource of a serialized export request (the sender's values win)."""
    _, req_cls, _, field = _SERVICES[signal]
    req = req_cls.FromString(raw)
    for entry in getattr(req, field):
        add_resource_attributes(entry.resource, attrs)
    return req.SerializeToString()


class Relay:
    def __init__(self, listen: str, queue: DiskQueue, resource: Mapping[str, str], workers: int = 4):
        self.listen = listen
        self.queue = queue
        self.attrs = dict(resource)  # host.*, os.type and the agent's [resource] labels
        self.requests = 0
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stackeye-relay"),
                                  options=[("grpc.max_receive_message_length", MAX_REQUEST_BYTES)])
        handlers = []
        for signal, (service, _, resp_cls, _) in _SERVICES.items():
            handlers.append(grpc.method_handlers_generic_handler(service, {
                "Export": grpc.unary_unary_rpc_method_handler(
                    self._handler(signal, resp_cls), request_deserializer=None, response_serializer=None),
            }))
        self.server.add_generic_rpc_handlers(handlers)
        try:
            self.port = self.server.add_insecure_port(listen)
        except RuntimeError:
            self.port = 0
        if not self.port:
            raise RuntimeError(f"otlp_listen: cannot listen on {listen} (in use?); set --otlp-listen to a free "
                               f"HOST:PORT or 'off'. The agent runs without its local relay.")

    def _handler(self, signal: str, resp_cls):
        empty = resp_cls().SerializeToString()

        def export(raw: bytes, context):
            try:
                payload = enrich(raw, signal, self.attrs)
            except Exception as exc:  # noqa: BLE001 - a malformed request is the sender's problem
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed OTLP {signal} request: {exc}")
            if not self.queue.put(signal, payload):
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "request larger than the agent's disk buffer")
            self.requests += 1
            return empty
        return export

    def start(self) -> "Relay":
        self.server.start()
        log.info("OTLP relay listening on %s", self.listen)
        return self

    def stop(self, grace: float = 2.0) -> None:
        self.server.stop(grace).wait()
