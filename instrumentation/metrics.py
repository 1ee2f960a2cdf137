"""Business metrics: counters and histograms in two lines, exported as OTLP metrics.

>>> import stackeye.instrumentation as se
>>> se.counter("orders_placed").add(1, {"plan": "pro"})
>>> se.histogram("basket_value", unit="EUR").record(42.5, {"plan": "pro"})
>>> se.counter("orders_placed") is se.counter("orders_placed")
True

Works before :func:`stackeye.instrumentation.init` too: the instruments then follow the
provider that ``init`` installs. Like every OpenTelemetry API call, these never raise.
"""
from __future__ import annotations

import threading

from opentelemetry import metrics

METER_NAME = "stackeye.business"
_lock = threading.Lock()
_instruments: dict[tuple[str, str], object] = {}


def _get(kind: str, name: str, unit: str, description: str):
    key = (kind, name)
    inst = _instruments.get(key)
    if inst is None:
        with _lock:
            inst = _instruments.get(key)
            if inst is None:
                meter = metrics.get_meter(METER_NAME)
                factory = {"counter": meter.create_counter, "histogram": meter.create_histogram,
                           "up_down_counter": meter.create_up_down_counter}[kind]
                inst = _instruments[key] = factory(name, unit=unit, description=description)
    return inst


def counter(name: str, unit: str = "", description: str = ""):
    """A monotonic counter: ``.add(amount, attributes)``."""
    return _get("counter", name, unit, description)


def histogram(name: str, unit: str = "", description: str = ""):
    """A histogram: ``.record(value, attributes)``."""
    return _get("histogram", name, unit, description)


def up_down_counter(name: str, unit: str = "", description: str = ""):
    """A counter that can go down (queue depth, open carts): ``.add(+/-amount, attributes)``."""
    return _get("up_down_counter", name, unit, description)
