"""The process-wide pipeline: :func:`init` once, :func:`shutdown` at exit (registered by init).

>>> from stackeye.instrumentation import runtime
>>> runtime.current() is None or runtime.current().cfg.service_name != ""
True
"""
from __future__ import annotations

import atexit
import logging
import os
import threading

from .auto import instrument_installed
from .config import Config
from .pipeline import Pipeline, build, refresh_process_attributes
from .stats import STATS

_log = logging.getLogger("stackeye.instrumentation")
_lock = threading.Lock()
_pipeline: Pipeline | None = None


def init(service_name: str | None = None, **settings) -> Pipeline:
    """Configure the OpenTelemetry SDK for this process (idempotent: later calls return the first).

    ``settings`` are :class:`Config` fields (``endpoint``, ``sample_ratio``, ``environment``,
    ``callstack_threshold_ms``...); anything not given comes from the environment.
    """
    global _pipeline
    with _lock:
        if _pipeline is not None:
            return _pipeline
        cfg = Config.from_env(service_name=service_name, **settings)
        pipe = build(cfg)
        install(pipe)
        if cfg.auto_instrument:
            results = instrument_installed(cfg.disabled_instrumentations)
            _log.debug("stackeye: instrumentations %s", results)
        _pipeline = pipe
        return pipe


def install(pipe: Pipeline) -> None:
    """Make ``pipe`` the global providers, flush it at exit, keep it working across fork()."""
    from opentelemetry import _logs, metrics, trace

    if pipe.tracer_provider is not None:
        trace.set_tracer_provider(pipe.tracer_provider)
    if pipe.meter_provider is not None:
        metrics.set_meter_provider(pipe.meter_provider)
    if pipe.logger_provider is not None:
        _logs.set_logger_provider(pipe.logger_provider)
    atexit.register(pipe.shutdown)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=lambda: _after_fork_in_child(pipe))


def _after_fork_in_child(pipe: Pipeline) -> None:
    refresh_process_attributes(pipe)
    for exp in pipe.exporters:
        exp.reset_after_fork()


def shutdown(timeout_s: float | None = None) -> None:
    """Flush and stop now (also runs at exit); bounded by ``timeout_s`` / ``exit_timeout_s``."""
    if _pipeline is not None:
        _pipeline.shutdown(timeout_s)


def current() -> Pipeline | None:
    """The pipeline ``init`` built, if any."""
    return _pipeline


def stats() -> dict[str, int]:
    """Counters: ``spans_exported``, ``spans_failed``, ``spans_dropped``, ``instrumentors_failed``..."""
    return STATS.snapshot()
