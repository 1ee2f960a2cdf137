"""stackeye.instrumentation: one import that configures OpenTelemetry for a Python service.

>>> import stackeye.instrumentation as se
>>> se.init(service_name="checkout")                      # doctest: +SKIP
>>> se.counter("orders_placed").add(1, {"plan": "pro"})

``init`` reads ``STACKEYE_*`` and ``OTEL_*`` variables (see :class:`Config`), sends OTLP/gRPC
to the local agent (127.0.0.1:4317 by default), instruments every installed library it knows,
records call trees for slow requests, and flushes within ``exit_timeout_s`` at exit. Call it
before creating the Flask/FastAPI/Django app. The same defaults apply with no code change:
``stackeye-instrument --service-name checkout python app.py``.
"""
from __future__ import annotations

from .config import Config
from .metrics import counter, histogram, up_down_counter
from .runtime import current, init, shutdown, stats

__all__ = ["Config", "init", "shutdown", "stats", "current", "counter", "histogram", "up_down_counter"]
