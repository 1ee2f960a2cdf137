"""How the stages are put together — the one place that knows their order.

Embedded (``stackeye up``)::

    OTLP gRPC/HTTP → Receiver → Spool (durable) → Writer → Storage (chDB)
                                                        ↘ HTTP API (health, SQL, views, /metrics)

Cluster mode: ``stackeye collector`` is the front half and ``stackeye writer`` the back half, with
Kafka in between::

    OTLP gRPC/HTTP → Receiver → KafkaQueue (acks=all)      KafkaQueue (group) → Writer → Storage

Shutdown runs the other way: stop accepting, drain (embedded) or finish the batch in flight
(writer: Kafka keeps the rest), close the store.
"""
from __future__ import annotations

import dataclasses
import logging
import os

from stackeye.collector.config import UpConfig
from stackeye.collector import __version__
from stackeye.collector.http import HTTPServer, Response, Router
from stackeye.collector.ingest.grpc_services import mount_all
from stackeye.collector.ingest.otlp_grpc import OtlpGrpcServer
from stackeye.collector.ingest.otlp_http import otlp_http_router
from stackeye.collector.ingest.receiver import Authenticator, IngestLimits, Receiver
from stackeye.collector.queue.spool import Spool
from stackeye.collector.storage.base import QueryLimits
from stackeye.collector.storage.factory import open_storage
from stackeye.collector.storage.migrations import SchemaOptions
from stackeye.collector.storage.url import parse_storage_url
from stackeye.collector.telemetry import PipelineMetrics
from stackeye.collector.writer.writer import Writer, WriterConfig

log = logging.getLogger("stackeye.app")


@dataclasses.dataclass
class Context:
    """What components and plug-ins (API routes, extra gRPC services) may use."""

    config: object
    storage: object
    storage_url: str
    metrics: PipelineMetrics
    queue: object = None
    writer: Writer | None = None
    receiver: Receiver | None = None


class EmbeddedApp:
    def __init__(self, config: UpConfig):
        self.config = config
        self._servers: list = []
        self.context: Context | None = None

    def start(self) -> Context:
        cfg = self.config
        url = parse_storage_url(cfg.storage_url())
        metrics = PipelineMetrics()
        log.info("opening storage %s", url.redacted())
        storage = open_storage(url, SchemaOptions(ttl_days=cfg.retention_days),
                               QueryLimits(cfg.query_max_rows, cfg.query_timeout_s))
        try:
            for name in storage.migrate():
                log.info("schema migration applied: %s", name)
            queue = Spool(os.path.join(cfg.data_dir, "spool"), max_bytes=cfg.spool_max_bytes, fsync=cfg.fsync)
        except Exception:
            storage.close()
            raise
        metrics.queued_bytes.set_function(lambda: queue.depth()[1])
        writer = Writer(queue, storage, metrics,
                        WriterConfig(cfg.batch_max_records, cfg.batch_max_bytes, cfg.batch_max_wait_s))
        receiver = Receiver(queue, metrics, IngestLimits(cfg.max_request_bytes), Authenticator(cfg.tokens))
        ctx = self.context = Context(cfg, storage, url.redacted(), metrics, queue, writer, receiver)
        writer.start()
        try:
            from stackeye.query.api import api_router

            grpc_server = OtlpGrpcServer(receiver, cfg.otlp_grpc)
            mount_all(grpc_server.server, ctx)
            self._servers.append(grpc_server)
            if cfg.otlp_http:
                self._servers.append(HTTPServer(otlp_http_router(receiver), cfg.otlp_http, "OTLP/HTTP",
                                                max_body_bytes=2 * cfg.max_request_bytes))
            self._api = HTTPServer(api_router(ctx), cfg.http, "API")
        except Exception:
            self.stop()
            raise
        for server in self._servers:
            server.start()
        self._api.start()
        return ctx

    def stop(self) -> None:
        """Stop accepting, drain the queue into storage, close everything."""
        ctx = self.context
        for server in self._servers:
            server.stop()
        self._servers.clear()
        if ctx is None:
            return
        if ctx.writer:
            log.info("draining %d queued bytes into storage", ctx.queue.depth()[1])
            ctx.writer.stop(drain=True)
        ctx.queue.close()
        if getattr(self, "_api", None):
            self._api.stop()
        ctx.storage.close()
        log.info("stopped; %d items written in this run", ctx.metrics.total(ctx.metrics.written_rows))
        self.context = None


def status_router(health, metrics: PipelineMetrics) -> Router:
    """``GET /api/v1/health`` (``health()`` as JSON; 503 unless its status is ok) and ``GET /metrics``."""
    router = Router()

    @router.route("GET", "/api/v1/health")
    def _health(req):
        doc = health()
        return Response.json(doc, 200 if doc.get("status") == "ok" else 503)

    @router.route("GET", "/metrics")
    def _metrics(req):
        return Response(200, metrics.prometheus_text(), "text/plain; version=0.0.4")

    return router


class KafkaCollectorApp:
    """``stackeye collector``: OTLP gRPC/HTTP → Receiver → KafkaQueue. Stateless."""

    def __init__(self, kafka_config, *, otlp_grpc: str, otlp_http: str | None = None, http: str | None = None,
                 tokens=(), max_request_bytes: int = 16 << 20):
        from stackeye.collector.queue.base import QueueUnavailable
        from stackeye.collector.queue.kafka import KafkaQueue

        self.queue = KafkaQueue(kafka_config)
        try:
            self.queue.ensure_topics()
        except QueueUnavailable as exc:  # not fatal: requests get UNAVAILABLE until Kafka answers
            log.warning("%s", exc)
        self.metrics = metrics = PipelineMetrics()
        receiver = Receiver(self.queue, metrics, IngestLimits(max_request_bytes), Authenticator(tokens))
        self._servers: list = []
        try:
            self._servers.append(OtlpGrpcServer(receiver, otlp_grpc))
            if otlp_http:
                self._servers.append(HTTPServer(otlp_http_router(receiver), otlp_http, "OTLP/HTTP",
                                                max_body_bytes=2 * max_request_bytes))
            if http:
                def health():
                    return {"status": "ok", "role": "collector", "version": __version__,
                            "kafka": list(kafka_config.brokers),
                            "topics": {s.name.lower(): t for s, t in kafka_config.topics.items()},
                            "received_items": metrics.total(metrics.received_items),
                            "rejected_requests": metrics.total(metrics.rejected_requests)}

                self._servers.append(HTTPServer(status_router(health, metrics), http, "status"))
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
