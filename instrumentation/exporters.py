"""Exporters that never hurt the app: wrappers around the stock OTLP/gRPC exporters.

Each wrapper

- never raises (an exception inside the real exporter becomes a failed export, logged once);
- owns one real exporter per process: after ``fork()`` the child builds its own (new gRPC channel);
- at process exit gets a hard deadline (:meth:`begin_shutdown`): retries stop, each remaining
  export call gets only the time left, and batches past the deadline are dropped and counted;
- for spans, runs a ``transform`` on each span in the export thread (SQL normalization, call
  trees: see :mod:`.enrich`), off the request path.

>>> from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
>>> exp = SafeSpanExporter(lambda: OTLPSpanExporter(endpoint="127.0.0.1:9", insecure=True))
>>> exp.begin_shutdown(0)       # deadline already passed: every batch is dropped, nothing raises
>>> exp.export([object()]).name
'FAILURE'
>>> STATS.snapshot()["spans_dropped"] >= 1
True
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable, Sequence

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .stats import STATS

_log = logging.getLogger("stackeye.instrumentation")


class _Guard:
    """Per-process real exporter, deadline and error reporting shared by the three wrappers."""

    signal = "spans"

    def __init__(self, factory: Callable[[], object]):
        self._factory = factory
        self._inner = None
        self._pid = -1
        self._lock = threading.Lock()
        self._deadline: float | None = None
        self._warned = False

    def _real(self):
        pid = os.getpid()
        if self._pid != pid:  # first use, or first use in a forked child: never reuse a parent's channel
            with self._lock:
                if self._pid != pid:
                    self._inner = self._factory()
                    self._pid = pid
                    if self._deadline is not None:
                        self._limit(self._inner)
        return self._inner

    def _guarded(self, n: int, call: Callable[[object], object], failure):
        if self._deadline is not None and time.monotonic() >= self._deadline:
            STATS.add(f"{self.signal}_dropped", n)
            return failure
        try:
            inner = self._real()
            if self._deadline is not None:
                self._limit(inner)  # this call gets only the time left
            result = call(inner)
        except Exception as exc:  # never into the app
            self._warn_once(exc)
            STATS.add(f"{self.signal}_failed", n)
            return failure
        STATS.add(f"{self.signal}_exported" if result != failure else f"{self.signal}_failed", n)
        return result

    def _warn_once(self, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            _log.warning("stackeye: exporting %s failed (%r); further failures are counted, not logged",
                         self.signal, exc)

    def reset_after_fork(self) -> None:
        """In a forked child: forget the parent's exporter (and its gRPC channel); build anew on use."""
        self._lock = threading.Lock()
        self._inner = None
        self._pid = -1

    def begin_shutdown(self, deadline: float) -> None:
        """From now on no export may run past ``deadline`` (a ``time.monotonic()`` value)."""
        self._deadline = deadline
        if self._inner is not None and self._pid == os.getpid():
            self._limit(self._inner)

    def _limit(self, inner) -> None:
        remaining = max(0.05, (self._deadline or 0) - time.monotonic())
        if hasattr(inner, "_timeout"):
            inner._timeout = remaining
        event = getattr(inner, "_shutdown_in_progress", None)
        if event is not None:
            event.set()  # stock exporter: stop retrying / waiting for backoff

    def _shutdown_inner(self, **kwargs) -> None:
        inner, self._inner = (self._inner if self._pid == os.getpid() else None), None
        if inner is not None:
            try:
                inner.shutdown(**kwargs)
            except Exception as exc:
                self._warn_once(exc)


class SafeSpanExporter(_Guard, SpanExporter):
    """A :class:`SpanExporter` around a factory of real ones; ``transform`` maps each span first."""

    signal = "spans"

    def __init__(self, factory, transform: Callable | None = None):
        super().__init__(factory)
        self._transform = transform

    def export(self, spans: Sequence) -> SpanExportResult:
        transform = self._transform

        def call(inner):
            batch = spans
            if transform is not None:
                batch = [transform(s) for s in spans]
            return inner.export(batch)

        return self._guarded(len(spans), call, SpanExportResult.FAILURE)

    def shutdown(self) -> None:
        self._shutdown_inner()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class SafeLogExporter(_Guard, LogRecordExporter):
    """A :class:`LogRecordExporter` around a factory of real ones."""

    signal = "logs"

    def export(self, batch) -> LogRecordExportResult:
        return self._guarded(len(batch), lambda inner: inner.export(batch), LogRecordExportResult.FAILURE)

    def shutdown(self) -> None:
        self._shutdown_inner()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class SafeMetricExporter(_Guard, MetricExporter):
    """A :class:`MetricExporter` around a factory of real ones (temporality taken from the first)."""

    signal = "metrics"

    def __init__(self, factory):
        _Guard.__init__(self, factory)
        probe = self._real()
        MetricExporter.__init__(self, preferred_temporality=probe._preferred_temporality,
                                preferred_aggregation=probe._preferred_aggregation)

    def export(self, metrics_data, timeout_millis: float = 10_000, **kwargs) -> MetricExportResult:
        return self._guarded(1, lambda inner: inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs),
                             MetricExportResult.FAILURE)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
        self._shutdown_inner(timeout_millis=timeout_millis)
