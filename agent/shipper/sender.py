"""Send queued OTLP export requests to the collector over gRPC, in order, with retry.

:class:`GrpcSender` pushes one serialized request (no re-encoding: the bytes in the disk queue
go on the wire as they are) with the token as ``authorization: Bearer <token>`` metadata, gzip,
a per-request deadline and, with a :class:`ChannelTLS`, TLS that verifies the collector's
certificate (against the given CA, else the system's CAs) and may show a client certificate (mTLS). :class:`Shipper` is the loop: take the
oldest queued item, send it, ack it; on a transient failure wait (:func:`stackeye.core.retry.retry`:
capped exponential backoff with jitter, cut short by stop) and retry the same item, so order is kept
and nothing is skipped.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import ssl
import threading
import time

import grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse,
)
from stackeye.core.retry import Backoff, Stopped, retry

from .queue import DiskQueue

log = logging.getLogger("stackeye.agent.shipper")

METHODS = {
    "metrics": ("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", ExportMetricsServiceResponse),
    "logs": ("/opentelemetry.proto.collector.logs.v1.LogsService/Export", ExportLogsServiceResponse),
    "traces": ("/opentelemetry.proto.collector.trace.v1.TraceService/Export", ExportTraceServiceResponse),
}
# Retrying cannot help: the request itself is wrong. Dropped (and counted) instead of blocking the
# queue. So is RESOURCE_EXHAUSTED that names a size limit (a request over the collector's maximum);
# any other RESOURCE_EXHAUSTED is back-pressure and retried.
PERMANENT = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNIMPLEMENTED}
REFUSED = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}
BATCH_ID_HEADER = "stackeye-batch-id"


@dataclasses.dataclass(frozen=True)
class ChannelTLS:
    """TLS to the collector. ``ca_file``: the CA that signed its certificate ('' = the system's CAs);
    ``client_cert``/``client_key``: the agent's own certificate for mTLS ('' = none; an empty key:
    it is in the ``client_cert`` file)."""

    ca_file: str = ""
    client_cert: str = ""
    client_key: str = ""

    def credentials(self) -> grpc.ChannelCredentials:
        cert = _read(self.client_cert) if self.client_cert else None
        key = _read(self.client_key or self.client_cert) if self.client_cert else None
        return grpc.ssl_channel_credentials(root_certificates=_read(self.ca_file) if self.ca_file else system_cas(),
                                            private_key=key, certificate_chain=cert)


def system_cas() -> bytes | None:
    """The system's CA bundle (OpenSSL's default file); None: gRPC's own bundled roots."""
    path = ssl.get_default_verify_paths().cafile
    return _read(path) if path and os.path.isfile(path) else None


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def channel_for(target: str, tls: ChannelTLS | None = None, gzip: bool = True) -> grpc.Channel:
    options = [("grpc.max_send_message_length", 64 * 1024 * 1024),
               ("grpc.max_receive_message_length", 64 * 1024 * 1024),
               ("grpc.keepalive_time_ms", 30000),
               ("grpc.initial_reconnect_backoff_ms", 200),
               ("grpc.max_reconnect_backoff_ms", 2000)]
    compression = grpc.Compression.Gzip if gzip else grpc.Compression.NoCompression
    if tls is not None:
        return grpc.secure_channel(target, tls.credentials(), options=options, compression=compression)
    return grpc.insecure_channel(target, options=options, compression=compression)


def auth_metadata(token: str) -> tuple:
    return (("authorization", f"Bearer {token}"),) if token else ()


class GrpcSender:
    def __init__(self, target: str, token: str = "", tls: ChannelTLS | None = None, gzip: bool = True,
                 timeout: float = 10.0):
        self.target = target
        self.timeout = timeout
        self.metadata = auth_metadata(token)
        self.channel = channel_for(target, tls, gzip)
        self._calls = {sig: self.channel.unary_unary(method, request_serializer=None, response_deserializer=None)
                       for sig, (method, _) in METHODS.items()}

    def send(self, signal: str, payload: bytes, batch_id: str = "") -> int:
        """Push one request; returns the number of items the collector rejected (partial success).

        ``batch_id`` goes along as ``stackeye-batch-id`` metadata: the same id on a retry, so a
        collector can recognise a batch it already stored when only its answer was lost."""
        metadata = self.metadata + ((BATCH_ID_HEADER, batch_id),) if batch_id else self.metadata
        raw = self._calls[signal](payload, timeout=self.timeout, metadata=metadata)
        resp = METHODS[signal][1].FromString(raw or b"")
        ps = resp.partial_success
        rejected = (getattr(ps, "rejected_data_points", 0) or getattr(ps, "rejected_log_records", 0)
                    or getattr(ps, "rejected_spans", 0))
        if rejected:
            log.warning("collector rejected %d %s items: %s", rejected, signal, ps.error_message)
        return rejected

    def close(self) -> None:
        self.channel.close()


class Shipper:
    """The sending loop over a :class:`DiskQueue`; one background thread."""

    def __init__(self, queue: DiskQueue, sender: GrpcSender, backoff: Backoff, batch_prefix: str = ""):
        self.queue = queue
        self.batch_prefix = batch_prefix
        self.sender = sender
        self.backoff = backoff
        self.sent = 0
        self.sent_bytes = 0
        self.failures = 0
        self.rejected = 0  # dropped because the collector called the request invalid
        self.refused = False  # the collector refused our token
        self.connected = None  # None until the first attempt
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stackeye-shipper", daemon=True)
        self._last_error_log = 0.0

    def start(self) -> "Shipper":
        self._thread.start()
        return self

    def stop(self, drain_timeout: float = 0.0) -> None:
        """Stop; with ``drain_timeout`` first give the queue that long to empty (what stays is on disk)."""
        if drain_timeout > 0 and self.connected:
            self.queue.wait_empty(drain_timeout)
        self._stop.set()
        self.queue.wake()
        if self._thread.is_alive():
            self._thread.join(timeout=max(self.sender.timeout, 1) + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self.queue.peek(timeout=0.5)
            if item is None:
                continue
            seq, signal, payload = item
            batch_id = f"{self.batch_prefix}-{seq}" if self.batch_prefix else ""
            try:
                rejected = retry(lambda: self.sender.send(signal, payload, batch_id), is_retryable=worth_retrying,
                                 stop=self._stop, policy=self.backoff, on_retry=self._failed)
            except Stopped:
                return  # the batch stays queued on disk
            except grpc.RpcError as err:  # the collector calls the request invalid: retrying cannot help
                log.error("collector %s rejected a %s batch as invalid (%s: %s); dropping it",
                          self.sender.target, signal, _code(err).name, _details(err))
                self.rejected += 1
                self.queue.ack(seq)
                continue
            self.rejected += rejected
            self.queue.ack(seq)
            self.sent += 1
            self.sent_bytes += len(payload)
            if self.connected is False or self.refused:
                log.info("collector %s is accepting data again; %d batches waiting", self.sender.target, self.queue.depth)
            self.connected, self.refused = True, False

    def _failed(self, err, attempt: int, delay: float) -> None:
        """A send failed and will be retried after ``delay``: count it, say so (not on every attempt)."""
        self.failures += 1
        self._report(_code(err), err)

    def _report(self, code, err) -> None:
        now = time.monotonic()
        refused = code in REFUSED
        changed = refused != self.refused or self.connected is not False
        self.connected, self.refused = False, refused
        if not changed and now - self._last_error_log < 60:
            return
        self._last_error_log = now
        if refused:
            log.error("the collector %s refused the agent's token (%s: %s); set --token or STACKEYE_TOKEN to a token "
                      "the collector accepts. Buffering on disk meanwhile (%d batches).",
                      self.sender.target, code.name, _details(err), self.queue.depth)
        else:
            log.warning("cannot reach collector %s (%s: %s); buffering on disk and retrying (%d batches waiting)",
                        self.sender.target, code.name if code else "error", _details(err), self.queue.depth)


def worth_retrying(err: BaseException) -> bool:
    """A failed send is retried unless the collector called the request itself wrong (see PERMANENT).
    A refused token is retried too: buffered on disk until the token or the collector is fixed."""
    if not isinstance(err, grpc.RpcError):
        return False
    code = _code(err)
    return not (code in PERMANENT or (code == grpc.StatusCode.RESOURCE_EXHAUSTED and "limit" in _details(err)))


def _code(err) -> grpc.StatusCode | None:
    return err.code() if hasattr(err, "code") else None


def _details(err) -> str:
    try:
        return err.details() or ""
    except Exception:  # noqa: BLE001
        return str(err)
