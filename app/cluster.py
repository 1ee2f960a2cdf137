"""Cluster mode: ``stackeye collector`` is the front half, ``stackeye writer`` the back half, Kafka between::

    OTLP gRPC/HTTP → Receiver → KafkaQueue (acks=all)      KafkaQueue (group) → Writer → Storage

Shutdown: the collector stops accepting; the writer finishes the batch in flight (Kafka keeps the
rest) and closes the store.
"""
from __future__ import annotations

import logging

from stackeye.app.status import status_router
from stackeye.auth.credentials import Credentials
from stackeye.auth.keystore import KeyStore
from stackeye.collector.ingest.otlp_grpc import OtlpGrpcServer
from stackeye.collector.ingest.otlp_http import otlp_http_router
from stackeye.collector.ingest.receiver import Authenticator, IngestLimits, Receiver
from stackeye.collector.telemetry import PipelineMetrics
from stackeye.collector.writer.writer import Writer, WriterConfig
from stackeye.core.http import HTTPServer
from stackeye.core.retry import Backoff, Stopped, retry, retry_on
from stackeye.core.version import __version__
from stackeye.storage.base import StorageError
from stackeye.storage.factory import open_storage

log = logging.getLogger("stackeye.app")


class KafkaCollectorApp:
    """``stackeye collector``: OTLP gRPC/HTTP → Receiver → KafkaQueue. Stateless."""

    def __init__(self, kafka_config, *, otlp_grpc: str, otlp_http: str | None = None, http: str | None = None,
                 tokens=(), max_request_bytes: int = 16 << 20, keys_file: str = "", rates=None, tls=None):
        """``tls``: a :class:`stackeye.core.tls.ServerTLS` served on every listener; None: plaintext."""
        from stackeye.collector.queue.base import QueueUnavailable
        from stackeye.collector.queue.kafka import KafkaQueue

        credentials = Credentials(KeyStore(keys_file) if keys_file else None, tokens)  # bad ones stop here (exit 2)
        self.queue = KafkaQueue(kafka_config)
        try:
            self.queue.ensure_topics()
        except QueueUnavailable as exc:  # not fatal: requests get UNAVAILABLE until Kafka answers
            log.warning("%s", exc)
        self.metrics = metrics = PipelineMetrics()
        receiver = Receiver(self.queue, metrics, IngestLimits(max_request_bytes), Authenticator(credentials=credentials), rates)
        self._servers: list = []
        try:
            ssl_context = tls.ssl_context() if tls else None
            self._servers.append(OtlpGrpcServer(receiver, otlp_grpc, credentials=tls.grpc_credentials() if tls else None))
            if otlp_http:
                self._servers.append(HTTPServer(otlp_http_router(receiver), otlp_http, "OTLP/HTTP",
                                                max_body_bytes=2 * max_request_bytes, ssl_context=ssl_context))
            if http:
                def health():
                    return {"status": "ok", "role": "collector", "version": __version__,
                            "kafka": list(kafka_config.brokers),
                            "topics": {s.name.lower(): t for s, t in kafka_config.topics.items()},
                            "received_items": metrics.total(metrics.received_items),
                            "rejected_requests": metrics.total(metrics.rejected_requests)}

                self._servers.append(HTTPServer(status_router(health, metrics), http, "status", ssl_context=ssl_context))
        except OSError:
            self.stop()
            raise

    def start(self) -> None:
        for server in self._servers:
            server.start()

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        self._servers.clear()
        self.queue.close()


class KafkaWriterApp:
    """``stackeye writer``: KafkaQueue (consumer group) → Writer → an open storage."""

    def __init__(self, kafka_config, storage, storage_name: str, *, http: str | None = None,
                 batch: WriterConfig | None = None):
        from stackeye.collector.queue.kafka import KafkaQueue

        self.storage = storage
        self.queue = queue = KafkaQueue(kafka_config)
        self.metrics = metrics = PipelineMetrics()
        metrics.queued_bytes.set_function(lambda: queue.depth()[1])
        self.writer = writer = Writer(queue, storage, metrics, batch or WriterConfig())
        self._server = None
        if http:
            def health():
                lag, buffered = queue.depth()
                return {"status": "ok" if not writer.last_error else "degraded", "role": "writer",
                        "version": __version__, "kafka": list(kafka_config.brokers), "group": kafka_config.group_id,
                        "storage": storage_name, "lag_records": lag, "buffered_bytes": buffered,
                        "last_error": writer.last_error, "written_items": metrics.total(metrics.written_rows),
                        "dead_letters": queue.dead_lettered, "partitions": queue.partitions}

            try:
                self._server = HTTPServer(status_router(health, metrics), http, "status")
            except OSError:
                queue.close()
                raise

    def start(self) -> None:
        if self._server:
            self._server.start()
        self.writer.start()

    def stop(self) -> None:
        """Finish the batch in flight (Kafka keeps the rest), then close."""
        self.writer.stop(drain=False)
        if self._server:
            self._server.stop()
        self.queue.close()
        self.storage.close()


def open_storage_waiting(url, schema, stop, timeout_s: float = 0.0):
    """Open the storage, retrying while it is unreachable (capped backoff); None if stopped first.
    Errors that retrying cannot fix (bad credentials, too old a server) are raised at once, and so
    is the last error once ``timeout_s`` (0 = no limit) has passed."""
    def waiting(exc, attempt: int, delay: float) -> None:
        log.warning("%s; retrying in %.1fs", exc, delay)

    try:
        return retry(lambda: open_storage(url, schema), is_retryable=retry_on(StorageError, when=lambda e: e.retryable),
                     stop=stop, policy=Backoff(0.5, 15.0), deadline_s=timeout_s or None, on_retry=waiting)
    except Stopped:
        return None
