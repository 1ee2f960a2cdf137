"""``stackeye up``: every stage in one process, on chDB.

    OTLP gRPC/HTTP → Receiver → Spool (durable) → Writer → Storage (chDB)
                                                        ↘ HTTP API (health, SQL, views, decisions, /metrics)
                                                        ↘ decision scheduler (with --policy FILE)
                                                        ↘ trigger scheduler and notifiers (with --triggers FILE)
                                                        ↘ KEDA external scaler (with --keda-grpc)

Shutdown runs the other way: stop accepting, drain the spool into storage, close the store.
"""
from __future__ import annotations

import dataclasses
import logging
import os

from stackeye.app import access, decisions_api, issues_api, keys_api, triggers_api
from stackeye.app.api_auth import ApiAuth
from stackeye.auth.audit import AuditLog
from stackeye.auth.credentials import Credentials
from stackeye.auth.keystore import KeyStore
from stackeye.events.deploys import DeployTracker
from stackeye.events.issue_sync import IssueSync
from stackeye.app.decisions import DecisionService, load_policies
from stackeye.app.query_limits import query_limits
from stackeye.app.tenant_rates import rate_limits
from stackeye.app.tls_settings import server_tls
from stackeye.app.triggers import TriggerService, load_triggers
from stackeye.app.up_config import UpConfig
from stackeye.collector.ingest.grpc_services import mount_all
from stackeye.collector.ingest.otlp_grpc import OtlpGrpcServer
from stackeye.collector.ingest.otlp_http import otlp_http_router
from stackeye.collector.ingest.receiver import Authenticator, IngestLimits, Receiver
from stackeye.collector.queue.spool import Spool
from stackeye.collector.self_metrics import SelfMetricsWriter
from stackeye.collector.telemetry import PipelineMetrics
from stackeye.collector.writer.writer import Writer, WriterConfig
from stackeye.core.http import HTTPServer
from stackeye.core.periodic import Periodic
from stackeye.decisions.keda import ExternalScalerServicer, KedaScalerServer, evaluator_decide
from stackeye.query.api import api_router
from stackeye.storage.factory import open_storage
from stackeye.storage.migrations import SchemaOptions
from stackeye.storage.url import parse_storage_url

log = logging.getLogger("stackeye.app")
AUDIT_SYNC_S = 10.0


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
    decisions: DecisionService | None = None  # the evaluator, its policies and scheduler
    triggers: TriggerService | None = None  # the trigger engine, its rules, notifiers and schedule
    issues: IssueSync | None = None  # the issues of the errors view, synced each trigger round
    openapi_paths: dict = dataclasses.field(default_factory=dict)  # routes added above the query layer
    keystore: KeyStore | None = None  # tenants and keys (the key file)
    api_auth: ApiAuth | None = None  # api_auth.principal(request, role): the caller of an API request
    audit: AuditLog | None = None  # stackeye_audit


def keda_scaler(evaluator, cfg: UpConfig, credentials=None) -> KedaScalerServer:
    """KEDA's external scaler on ``--keda-grpc``, answering with ``evaluator``'s autoscale decisions."""
    return KedaScalerServer(ExternalScalerServicer(evaluator_decide(evaluator), cfg.keda_recheck_s), cfg.keda_grpc,
                            credentials=credentials)


class EmbeddedApp:
    def __init__(self, config: UpConfig):
        self.config = config
        self.tls = server_tls(config)  # a certificate that cannot be used stops here (exit 2); SIGHUP reloads it
        self._servers: list = []
        self.context: Context | None = None

    def start(self) -> Context:
        cfg = self.config
        url = parse_storage_url(cfg.storage_url())
        policies = load_policies(cfg.policy)  # a bad policy file stops here (exit 2), before anything runs
        triggers = load_triggers(cfg.triggers)  # so does a bad triggers file
        keystore = KeyStore(cfg.keys_path())  # and a bad key file, token or API key flag
        credentials = Credentials(keystore, cfg.tokens, cfg.api_keys)
        metrics = PipelineMetrics()
        log.info("opening storage %s", url.redacted())
        storage = open_storage(url, SchemaOptions(ttl_days=cfg.retention_days),
                               query_limits(cfg), cfg.attribute_limits())
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
        receiver = Receiver(queue, metrics, IngestLimits(cfg.max_request_bytes), Authenticator(credentials=credentials),
                            rate_limits(cfg))
        ctx = self.context = Context(cfg, storage, url.redacted(), metrics, queue, writer, receiver)
        ctx.keystore, ctx.api_auth, ctx.audit = keystore, ApiAuth(credentials, metrics.registry), AuditLog(storage)
        # the key file's changes (also the CLI's, made while this runs) reach stackeye_audit within AUDIT_SYNC_S
        self._audit_sync = Periodic("audit-sync", AUDIT_SYNC_S, lambda: ctx.audit.sync_quietly(keystore))
        ctx.decisions = DecisionService(storage, metrics.registry, policies, cfg.decide_interval)
        ctx.issues = IssueSync(storage)
        ctx.triggers = TriggerService(storage, metrics.registry, triggers, cfg.trigger_interval,
                                      generator_base=f"{'https' if self.tls else 'http'}://{cfg.http}", issues=ctx.issues,
                                      self_metrics=SelfMetricsWriter(storage, metrics, lambda: queue.depth()[1]),
                                      deploys=DeployTracker(storage))
        writer.start()
        tls = self.tls
        ssl_context = tls.ssl_context() if tls else None
        try:
            grpc_server = OtlpGrpcServer(receiver, cfg.otlp_grpc, credentials=tls.grpc_credentials() if tls else None)
            mount_all(grpc_server.server, ctx)
            self._servers.append(grpc_server)
            if cfg.otlp_http:
                self._servers.append(HTTPServer(otlp_http_router(receiver), cfg.otlp_http, "OTLP/HTTP",
                                                max_body_bytes=2 * cfg.max_request_bytes, ssl_context=ssl_context))
            router = api_router(ctx)
            decisions_api.register(router, ctx)
            triggers_api.register(router, ctx)
            issues_api.register(router, ctx)
            keys_api.register(router, ctx)
            router.guard = access.guard(ctx.api_auth)
            self._api = HTTPServer(router, cfg.http, "API", ssl_context=ssl_context)
            if cfg.keda_grpc:
                self._servers.append(keda_scaler(ctx.decisions.evaluator, cfg, tls.grpc_credentials() if tls else None))
        except Exception:
            self.stop()
            raise
        for server in self._servers:
            server.start()
        self._api.start()
        ctx.decisions.start()
        ctx.triggers.start()
        self._audit_sync.start()
        return ctx

    def stop(self) -> None:
        """Stop accepting, drain the queue into storage, close everything."""
        ctx = self.context
        for server in self._servers:
            server.stop()
        self._servers.clear()
        if ctx is None:
            return
        if ctx.decisions:
            ctx.decisions.stop()
        if ctx.triggers:
            ctx.triggers.stop()
        if getattr(self, "_audit_sync", None):
            self._audit_sync.stop()
        if ctx.writer:
            log.info("draining %d queued bytes into storage", ctx.queue.depth()[1])
            ctx.writer.stop(drain=True)
        ctx.queue.close()
        if getattr(self, "_api", None):
            self._api.stop()
        ctx.storage.close()
        log.info("stopped; %d items written in this run", ctx.metrics.total(ctx.metrics.written_rows))
        self.context = None
