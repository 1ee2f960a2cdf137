"""OTLP/gRPC receiver: TraceService, MetricsService and LogsService on one server.

Requests arrive as raw bytes (no deserializer): the receiver validates them once and the queue
keeps the exact bytes. gzip request compression is handled by gRPC itself.
"""
from __future__ import annotations

import logging
from concurrent import futures

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from stackeye.collector.ingest.receiver import IngestError, Receiver
from stackeye.core.signals import Signal

log = logging.getLogger("stackeye.ingest.grpc")

_EMPTY_RESPONSE = b""  # every Export*ServiceResponse with no partial_success serializes to nothing


def _handler(receiver: Receiver, signal: Signal):
    def export(request: bytes, context: grpc.ServicerContext) -> bytes:
        metadata = {k.lower(): v for k, v in context.invocation_metadata() if isinstance(v, str)}
        try:
            receiver.accept(signal, request, metadata, "grpc")
        except IngestError as err:
            if err.retry_after_s is None:
                context.abort(getattr(grpc.StatusCode, err.status), err.message)
            context.abort_with_status(retryable_status(err))
        return _EMPTY_RESPONSE

    return grpc.unary_unary_rpc_method_handler(export, request_deserializer=None, response_serializer=None)


def retryable_status(err: IngestError) -> grpc.Status:
    """``err`` with a google.rpc.RetryInfo in grpc-status-details-bin: the OTLP exporters retry a
    RESOURCE_EXHAUSTED only when it carries one, after its retry_delay."""
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(max(1, round(err.retry_after_s * 1e9)))
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    code = getattr(grpc.StatusCode, err.status).value[0]
    return rpc_status.to_status(status_pb2.Status(code=code, message=err.message, details=[detail]))


class OtlpGrpcServer:
    def __init__(self, receiver: Receiver, address: str, max_workers: int = 16, max_message_bytes: int | None = None,
                 credentials: grpc.ServerCredentials | None = None):
        """``credentials``: TLS (:meth:`stackeye.core.tls.ServerTLS.grpc_credentials`); None: plaintext."""
        # gRPC itself refuses what is far over our limit (RESOURCE_EXHAUSTED, uncounted); up to 2x the
        # limit reaches the receiver, which refuses with a message that says what to do and counts it.
        limit = max_message_bytes or receiver.limits.max_request_bytes
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="otlp-grpc"),
            options=[
                ("grpc.max_receive_message_length", 2 * limit),
                ("grpc.max_send_message_length", 4 << 20),
                ("grpc.so_reuseport", 0),
            ],
        )
        for signal in Signal:
            self.server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler(signal.grpc_service, {"Export": _handler(receiver, signal)}),)
            )
        self.address = address
        self.scheme = "TLS" if credentials else "plaintext"
        try:
            self.port = (self.server.add_secure_port(address, credentials) if credentials
                         else self.server.add_insecure_port(address))
        except RuntimeError:
            self.port = 0
        if self.port == 0:
            raise OSError(f"cannot listen for OTLP/gRPC on {address}: the address is in use or invalid (--otlp-grpc)")

    def start(self) -> None:
        self.server.start()
        log.info("OTLP/gRPC listening on %s (%s)", self.address, self.scheme)

    def stop(self, grace: float = 5.0) -> None:
        self.server.stop(grace).wait()
