"""Auto-instrumentation: every installed ``opentelemetry-instrumentation-*`` package, each on its own.

The instrumentors are found on the ``opentelemetry_instrumentor`` entry point, as the stock
``opentelemetry-instrument`` does. An instrumentor whose library is not installed (or is of an
unsupported version) is skipped quietly; one that raises is logged once and skipped, and the
others still run. ``sqlite3`` is replaced by :class:`.sqlite.StackeyeSQLite3Instrumentor`;
``logging`` injects trace ids into log records and exports records as OTLP logs.

Call :func:`instrument_installed` before the app creates its Flask/FastAPI/Django app object:
the web-framework instrumentors patch the framework classes.

>>> results = instrument_installed(disabled=("*",))
>>> results
{}
"""
from __future__ import annotations

import logging
from importlib.metadata import entry_points

from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts

from .stats import STATS

_log = logging.getLogger("stackeye.instrumentation")

# Extra keyword arguments per entry-point name.
INSTRUMENTOR_KWARGS: dict[str, dict] = {
    "logging": {"inject_trace_context": True},
    # The per-message ASGI send/receive spans double the span count of every request and carry
    # nothing the views use; the server span keeps status and timing.
    "fastapi": {"exclude_spans": ["receive", "send"]},
}
_INSTRUMENTED: dict[str, object] = {}


def _replacement(name: str):
    if name == "sqlite3":
        from .sqlite import StackeyeSQLite3Instrumentor

        return StackeyeSQLite3Instrumentor
    return None


def load_one(entry_point, **kwargs) -> str:
    """Instrument one entry point; returns ``"ok"``, ``"missing"`` or ``"failed"``. Never raises."""
    name = entry_point.name
    if name in _INSTRUMENTED:
        return "ok"
    try:
        dist = getattr(entry_point, "dist", None)
        if dist is not None and get_dist_dependency_conflicts(dist):
            return "missing"
        cls = _replacement(name) or entry_point.load()
        instrumentor = cls()
        options = {**INSTRUMENTOR_KWARGS.get(name, {}), **kwargs, "skip_dep_check": True}
        instrumentor.instrument(**options)
        _INSTRUMENTED[name] = instrumentor
        return "ok"
    except ModuleNotFoundError:
        return "missing"
    except Exception as exc:  # a broken instrumentor must not take the app (or the others) down
        STATS.add("instrumentors_failed")
        _log.warning("stackeye: instrumentation %r failed and is skipped: %r", name, exc)
        return "failed"


def instrument_installed(disabled: tuple[str, ...] = (), **kwargs) -> dict[str, str]:
    """Instrument what is installed; returns ``{entry point name: "ok"|"missing"|"failed"}``."""
    if "*" in disabled:
        return {}
    results = {}
    for ep in entry_points(group="opentelemetry_instrumentor"):
        if ep.name in disabled or ep.name in results:
            continue
        results[ep.name] = load_one(ep, **kwargs)
    return results


def uninstrument_all() -> None:
    """Undo :func:`instrument_installed` (tests, or an app that wants to stop tracing)."""
    for name, instrumentor in list(_INSTRUMENTED.items()):
        try:
            instrumentor.uninstrument()
        except Exception:
            pass
        _INSTRUMENTED.pop(name, None)
