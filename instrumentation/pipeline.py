"""The configured OpenTelemetry SDK: resource, providers, processors, exporters, exit and fork.

The order lives here and nowhere else::

    spans:   CallstackProcessor -> BatchSpanProcessor -> SafeSpanExporter(Enricher) -> OTLPSpanExporter
    metrics: PeriodicExportingMetricReader -> SafeMetricExporter -> OTLPMetricExporter
    logs:    logging handler -> BatchLogRecordProcessor -> SafeLogExporter -> OTLPLogExporter

>>> p = build(Config.from_env({}, service_name="doc", metrics=False, logs=False, endpoint="127.0.0.1:9"))
>>> p.resource.attributes["service.name"], p.tracer_provider is not None
('doc', True)
>>> p.shutdown(timeout_s=0.5)
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import (
    OTELResourceDetector,
    ProcessResourceDetector,
    Resource,
    get_aggregated_resources,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    ParentBased,
    ParentBasedTraceIdRatio,
)
from stackeye.core.version import __version__

from .callstack import CallstackProcessor
from .config import Config
from .enrich import Enricher
from .exporters import SafeLogExporter, SafeMetricExporter, SafeSpanExporter
from .process_cpu import register as register_process_cpu
from .stats import DropCountingMetrics

DISTRO_NAME = "stackeye"
DISTRO_VERSION = __version__
_QUIET_LOGGERS = ("opentelemetry.exporter.otlp.proto.grpc.exporter",)
# The batch processor warns once per dropped item (a LogRecord built per span, filtered later);
# drops are counted in stats and announced once by DropCountingMetrics instead.
_DROP_LOGGER = "opentelemetry.sdk._shared_internal"


INSTANCE_ID = "service.instance.id"


def build_resource(cfg: Config) -> Resource:
    """service.*, deployment.environment, host, process, telemetry.sdk/distro; OTEL_* detectors merged.

    ``service.instance.id`` tells the replicas of a service apart (the autoscale decisions count
    them): the configured one, else the one in OTEL_RESOURCE_ATTRIBUTES, else a uuid4 of this
    process (a forked child draws its own, see :func:`refresh_process_attributes`)."""
    attrs = {"service.name": cfg.service_name, "telemetry.distro.name": DISTRO_NAME,
             "telemetry.distro.version": DISTRO_VERSION, "host.name": socket.gethostname(),
             "host.arch": os.uname().machine if hasattr(os, "uname") else ""}
    if cfg.service_version:
        attrs["service.version"] = cfg.service_version
    if cfg.environment:
        attrs["deployment.environment"] = cfg.environment
        attrs["deployment.environment.name"] = cfg.environment
    if cfg.service_instance_id:
        attrs[INSTANCE_ID] = cfg.service_instance_id
    detected = get_aggregated_resources([OTELResourceDetector(), ProcessResourceDetector()], timeout=2)
    base = Resource.create({})  # recent SDKs draw service.instance.id themselves; older ones do not
    if INSTANCE_ID not in base.attributes:
        base = base.merge(Resource({INSTANCE_ID: str(uuid.uuid4())}))
    return base.merge(detected).merge(Resource(attrs))


class _OncePerMinute(logging.Filter):
    """The stock exporter logs every failed batch; keep one line per message per minute."""

    def __init__(self):
        super().__init__()
        self._seen: dict = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg)[:60])
        now = time.monotonic()
        if now - self._seen.get(key, -1e9) < 60:
            return False
        self._seen[key] = now
        return True


class Pipeline:
    """The providers built by :func:`build`; :meth:`shutdown` flushes within a hard deadline."""

    def __init__(self, cfg: Config, resource: Resource):
        self.cfg = cfg
        self.resource = resource
        self.tracer_provider: TracerProvider | None = None
        self.meter_provider: MeterProvider | None = None
        self.logger_provider: LoggerProvider | None = None
        self.callstacks: CallstackProcessor | None = None
        self.exporters: list = []
        self._done = False

    def shutdown(self, timeout_s: float | None = None) -> None:
        """Flush and stop everything; returns within ``timeout_s`` (default ``exit_timeout_s``).

        Exporters get the deadline first (no retries, short per-call timeouts, late batches dropped
        and counted); the providers are then shut down in a helper thread that we wait for at most
        until the deadline, so even a black-holed agent cannot hold the process.
        """
        if self._done:
            return
        self._done = True
        budget = self.cfg.exit_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + budget
        for exp in self.exporters:
            exp.begin_shutdown(deadline)
        if self.callstacks is not None:
            self.callstacks.shutdown()
        worker = threading.Thread(target=self._shutdown_providers, args=(deadline,),
                                  name="stackeye-shutdown", daemon=True)
        worker.start()
        worker.join(max(0.0, deadline - time.monotonic()) + 0.05)

    def _shutdown_providers(self, deadline: float) -> None:
        for provider in (self.tracer_provider, self.logger_provider, self.meter_provider):
            if provider is None:
                continue
            try:
                if isinstance(provider, MeterProvider):
                    provider.shutdown(timeout_millis=max(50.0, (deadline - time.monotonic()) * 1000))
                else:
                    provider.shutdown()
            except Exception:
                pass


def _exporter_factories(cfg: Config):
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
        OTLPMetricExporter,
    )
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    kw = dict(endpoint=cfg.grpc_target, insecure=cfg.insecure, timeout=cfg.export_timeout_s)
    return (lambda: OTLPSpanExporter(**kw)), (lambda: OTLPMetricExporter(**kw)), (lambda: OTLPLogExporter(**kw))


def _count_drops(processor, signal: str) -> None:
    inner = getattr(processor, "_batch_processor", None)
    if inner is not None and hasattr(inner, "_metrics"):
        inner._metrics = DropCountingMetrics(signal)


def build(cfg: Config) -> Pipeline:
    """Create (but do not install globally) the providers ``cfg`` asks for."""
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", cfg.semconv_opt_in)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).addFilter(_OncePerMinute())
    if logging.getLogger(_DROP_LOGGER).level == logging.NOTSET:
        logging.getLogger(_DROP_LOGGER).setLevel(logging.ERROR)
    pipe = Pipeline(cfg, build_resource(cfg))
    spans, metrics, logs = _exporter_factories(cfg)
    if cfg.traces:
        # ratio 1.0: ParentBased(ALWAYS_ON) decides the same, without the per-span trace-id bound check
        sampler = ParentBased(ALWAYS_ON) if cfg.sample_ratio >= 1.0 else ParentBasedTraceIdRatio(cfg.sample_ratio)
        tp = TracerProvider(resource=pipe.resource, sampler=sampler, shutdown_on_exit=False)
        if cfg.callstack:
            pipe.callstacks = CallstackProcessor(cfg.callstack_threshold_ms, cfg.callstack_interval_ms)
            tp.add_span_processor(pipe.callstacks)
        exporter = SafeSpanExporter(spans, Enricher(pipe.callstacks))
        bsp = BatchSpanProcessor(exporter, max_queue_size=cfg.max_queue_size,
                                 schedule_delay_millis=cfg.schedule_delay_ms,
                                 max_export_batch_size=min(cfg.max_export_batch, cfg.max_queue_size))
        _count_drops(bsp, "spans")
        tp.add_span_processor(bsp)
        pipe.tracer_provider = tp
        pipe.exporters.append(exporter)
    if cfg.metrics:
        exporter = SafeMetricExporter(metrics)
        reader = PeriodicExportingMetricReader(exporter, export_interval_millis=cfg.metric_interval_ms)
        pipe.meter_provider = MeterProvider(resource=pipe.resource, metric_readers=[reader], shutdown_on_exit=False)
        register_process_cpu(pipe.meter_provider)
        pipe.exporters.append(exporter)
    if cfg.logs:
        exporter = SafeLogExporter(logs)
        lp = LoggerProvider(resource=pipe.resource, shutdown_on_exit=False)
        blp = BatchLogRecordProcessor(exporter, max_queue_size=cfg.max_queue_size,
                                      schedule_delay_millis=cfg.schedule_delay_ms,
                                      max_export_batch_size=min(cfg.max_export_batch, cfg.max_queue_size))
        _count_drops(blp, "logs")
        lp.add_log_record_processor(blp)
        pipe.logger_provider = lp
        pipe.exporters.append(exporter)
    return pipe


def refresh_process_attributes(pipe: Pipeline) -> None:
    """After ``fork()``: the child's pid/ppid (and, unless one was configured, a service.instance.id
    of its own: each process is a replica) in every resource the providers hand out.

    Tracers, meters and loggers hold their provider's Resource object (the SDK's own fork hook
    may already have swapped the tracer provider's for a merged copy), so each current object is
    updated in place: that is what makes a pre-fork worker's telemetry say which worker it is.
    """
    # configured: shared by every worker on purpose (the SDK's own fork hook would replace it)
    instance_id = pipe.cfg.service_instance_id or str(uuid.uuid4())
    resources = [pipe.resource]
    if pipe.tracer_provider is not None:
        resources.append(pipe.tracer_provider.resource)
    if pipe.logger_provider is not None:
        resources.append(getattr(pipe.logger_provider, "resource", None))
    if pipe.meter_provider is not None:
        resources.append(getattr(getattr(pipe.meter_provider, "_sdk_config", None), "resource", None))
    for resource in {id(r): r for r in resources if r is not None}.values():
        try:
            store = getattr(resource._attributes, "_dict", None)  # BoundedAttributes
            if store is not None and "process.pid" in store:
                store["process.pid"] = os.getpid()
                store["process.parent_pid"] = os.getppid()
            if store is not None and INSTANCE_ID in store:
                store[INSTANCE_ID] = instance_id
        except Exception:
            pass
