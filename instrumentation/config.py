"""Instrumentation settings: one frozen dataclass, defaults at the top, read from the environment.

Precedence for every field: explicit keyword to :func:`stackeye.instrumentation.init` >
``STACKEYE_*`` variable > standard ``OTEL_*`` variable > default below.

>>> cfg = Config.from_env({"STACKEYE_SERVICE_NAME": "checkout", "OTEL_TRACES_SAMPLER_ARG": "0.25"})
>>> cfg.service_name, cfg.endpoint, cfg.sample_ratio
('checkout', '127.0.0.1:4317', 0.25)
>>> Config.from_env({}, service_name="api", callstack_threshold_ms=200.0).callstack_threshold_ms
200.0
"""
from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from typing import Mapping

DEFAULT_ENDPOINT = "127.0.0.1:4317"  # the local stackeye agent / `stackeye up`
DEFAULT_SAMPLE_RATIO = 1.0  # parent-based ratio sampler: keep every trace
DEFAULT_CALLSTACK_THRESHOLD_MS = 500.0  # root spans slower than this get a call tree
DEFAULT_CALLSTACK_INTERVAL_MS = 5.0  # sampling period of the per-request profiler
DEFAULT_MAX_QUEUE_SIZE = 2048  # spans/log records held while the agent is slow or down
DEFAULT_MAX_EXPORT_BATCH = 512
DEFAULT_SCHEDULE_DELAY_MS = 1000.0
DEFAULT_EXPORT_TIMEOUT_S = 10.0  # per export call while running
DEFAULT_EXIT_TIMEOUT_S = 1.0  # total budget for the final flush at process exit (goal: exit < 2 s)
DEFAULT_METRIC_INTERVAL_MS = 15000.0
# Stable (new) attribute names only on the request path: half the DB attributes of "database/dup".
# The legacy names (db.system, db.name, db.statement, net.peer.*) are added at export time by
# enrich.Enricher, so spans still carry both (docs/instrumentation.md).
DEFAULT_SEMCONV_OPT_IN = "http,database"


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value not in (None, ""):
            return value
    return None


def _bool(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _resource_attrs(env: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for part in (env.get("OTEL_RESOURCE_ATTRIBUTES") or "").split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            out[key.strip()] = value.strip()
    return out


def _default_service_name() -> str:
    argv0 = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return f"unknown_service:{argv0}" if argv0 else "unknown_service:python"


@dataclass(frozen=True)
class Config:
    """Everything :func:`init` needs. Each field names its variables; the default follows ``=``."""

    service_name: str = ""  # STACKEYE_SERVICE_NAME, OTEL_SERVICE_NAME, service.name in OTEL_RESOURCE_ATTRIBUTES
    service_version: str = ""  # STACKEYE_SERVICE_VERSION, service.version in OTEL_RESOURCE_ATTRIBUTES
    # STACKEYE_SERVICE_INSTANCE_ID, service.instance.id in OTEL_RESOURCE_ATTRIBUTES; empty: a uuid4 per process
    service_instance_id: str = ""
    environment: str = ""  # STACKEYE_ENVIRONMENT, deployment.environment(.name) in OTEL_RESOURCE_ATTRIBUTES
    endpoint: str = DEFAULT_ENDPOINT  # STACKEYE_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT (host:port or http://host:port)
    insecure: bool = True  # STACKEYE_INSECURE, OTEL_EXPORTER_OTLP_INSECURE
    sample_ratio: float = DEFAULT_SAMPLE_RATIO  # STACKEYE_SAMPLE_RATIO, OTEL_TRACES_SAMPLER_ARG
    traces: bool = True  # STACKEYE_TRACES; OTEL_TRACES_EXPORTER=none turns off
    metrics: bool = True  # STACKEYE_METRICS; OTEL_METRICS_EXPORTER=none turns off
    logs: bool = True  # STACKEYE_LOGS; OTEL_LOGS_EXPORTER=none turns off
    auto_instrument: bool = True  # STACKEYE_AUTO_INSTRUMENT
    disabled_instrumentations: tuple[str, ...] = ()  # STACKEYE_DISABLED_INSTRUMENTATIONS, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS
    callstack: bool = True  # STACKEYE_CALLSTACK
    callstack_threshold_ms: float = DEFAULT_CALLSTACK_THRESHOLD_MS  # STACKEYE_CALLSTACK_THRESHOLD_MS
    callstack_interval_ms: float = DEFAULT_CALLSTACK_INTERVAL_MS  # STACKEYE_CALLSTACK_INTERVAL_MS
    max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE  # STACKEYE_MAX_QUEUE_SIZE, OTEL_BSP_MAX_QUEUE_SIZE
    max_export_batch: int = DEFAULT_MAX_EXPORT_BATCH  # OTEL_BSP_MAX_EXPORT_BATCH_SIZE
    schedule_delay_ms: float = DEFAULT_SCHEDULE_DELAY_MS  # OTEL_BSP_SCHEDULE_DELAY
    export_timeout_s: float = DEFAULT_EXPORT_TIMEOUT_S  # OTEL_EXPORTER_OTLP_TIMEOUT (seconds)
    exit_timeout_s: float = DEFAULT_EXIT_TIMEOUT_S  # STACKEYE_EXIT_TIMEOUT_S
    metric_interval_ms: float = DEFAULT_METRIC_INTERVAL_MS  # OTEL_METRIC_EXPORT_INTERVAL
    semconv_opt_in: str = DEFAULT_SEMCONV_OPT_IN  # OTEL_SEMCONV_STABILITY_OPT_IN
    resource_attributes: Mapping[str, str] = field(default_factory=dict)  # OTEL_RESOURCE_ATTRIBUTES (the rest)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> "Config":
        """Build a config from ``env`` (default ``os.environ``), then apply keyword ``overrides``."""
        env = os.environ if env is None else env
        res = _resource_attrs(env)
        v = {}
        v["service_name"] = (_first(env, "STACKEYE_SERVICE_NAME", "OTEL_SERVICE_NAME")
                             or res.get("service.name") or "")
        v["service_version"] = _first(env, "STACKEYE_SERVICE_VERSION") or res.get("service.version", "")
        v["service_instance_id"] = _first(env, "STACKEYE_SERVICE_INSTANCE_ID") or res.get("service.instance.id", "")
        v["environment"] = (_first(env, "STACKEYE_ENVIRONMENT") or res.get("deployment.environment.name")
                            or res.get("deployment.environment", ""))
        endpoint = _first(env, "STACKEYE_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
        if endpoint:
            v["endpoint"] = endpoint
            v["insecure"] = not endpoint.startswith("https://")
        v["insecure"] = _bool(_first(env, "STACKEYE_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE"), v.get("insecure", True))
        ratio = _first(env, "STACKEYE_SAMPLE_RATIO")
        if ratio is None and env.get("OTEL_TRACES_SAMPLER", "parentbased_traceidratio").endswith("traceidratio"):
            ratio = env.get("OTEL_TRACES_SAMPLER_ARG")
        if ratio:
            v["sample_ratio"] = float(ratio)
        for signal in ("traces", "metrics", "logs"):
            on = env.get(f"OTEL_{signal.upper()}_EXPORTER", "otlp").strip().lower() != "none"
            v[signal] = _bool(env.get(f"STACKEYE_{signal.upper()}"), on)
        v["auto_instrument"] = _bool(env.get("STACKEYE_AUTO_INSTRUMENT"), True)
        disabled = _first(env, "STACKEYE_DISABLED_INSTRUMENTATIONS", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS") or ""
        v["disabled_instrumentations"] = tuple(x.strip() for x in disabled.split(",") if x.strip())
        v["callstack"] = _bool(env.get("STACKEYE_CALLSTACK"), True)
        numbers = {
            "callstack_threshold_ms": (float, "STACKEYE_CALLSTACK_THRESHOLD_MS"),
            "callstack_interval_ms": (float, "STACKEYE_CALLSTACK_INTERVAL_MS"),
            "max_queue_size": (int, "STACKEYE_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE"),
            "max_export_batch": (int, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
            "schedule_delay_ms": (float, "OTEL_BSP_SCHEDULE_DELAY"),
            "export_timeout_s": (float, "OTEL_EXPORTER_OTLP_TIMEOUT"),
            "exit_timeout_s": (float, "STACKEYE_EXIT_TIMEOUT_S"),
            "metric_interval_ms": (float, "OTEL_METRIC_EXPORT_INTERVAL"),
        }
        for name, (kind, *names) in numbers.items():
            raw = _first(env, *names)
            if raw is not None:
                v[name] = kind(raw)
        v["semconv_opt_in"] = env.get("OTEL_SEMCONV_STABILITY_OPT_IN", DEFAULT_SEMCONV_OPT_IN)
        v["resource_attributes"] = res
        v.update({k: val for k, val in overrides.items() if val is not None})
        if not v["service_name"]:
            v["service_name"] = _default_service_name()
        cfg = cls(**v)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise ``ValueError`` on settings that cannot work."""
        if not 0.0 <= self.sample_ratio <= 1.0:
            raise ValueError(f"sample_ratio must be within [0, 1], got {self.sample_ratio}")
        if self.max_queue_size < 1 or self.max_export_batch < 1:
            raise ValueError("max_queue_size and max_export_batch must be positive")
        if self.callstack_interval_ms <= 0 or self.callstack_threshold_ms < 0:
            raise ValueError("callstack interval must be > 0 and threshold >= 0")

    @property
    def grpc_target(self) -> str:
        """The endpoint as gRPC wants it: ``host:port`` without a scheme.

        >>> Config(endpoint="http://collector:4317/").grpc_target
        'collector:4317'
        """
        target = self.endpoint.split("://", 1)[-1]
        return target.rstrip("/")

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)
