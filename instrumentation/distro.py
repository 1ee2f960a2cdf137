"""``opentelemetry_distro`` entry point ``stackeye``: our defaults under stock ``opentelemetry-instrument``.

The stock auto-instrumentation (``sitecustomize``) loads one distro, then the configurator
(:mod:`.configurator`), then every ``opentelemetry_instrumentor`` through
:meth:`StackeyeDistro.load_instrumentor` — where we swap in our sqlite3 instrumentor, pass our
per-instrumentor options, skip missing libraries quietly and log a failing instrumentor once
instead of aborting the app (the stock loader re-raises).

>>> StackeyeDistro().configure()
>>> import os; os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"]
'grpc'
"""
from __future__ import annotations

import os

from opentelemetry.instrumentation.distro import BaseDistro

from . import auto
from .config import DEFAULT_ENDPOINT, DEFAULT_SEMCONV_OPT_IN


class StackeyeDistro(BaseDistro):
    """Defaults: OTLP/gRPC to the local agent, insecure, stable HTTP + dual DB attribute names."""

    def _configure(self, **kwargs) -> None:
        os.environ.setdefault("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", DEFAULT_SEMCONV_OPT_IN)
        if not (os.environ.get("STACKEYE_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")):
            os.environ.setdefault("STACKEYE_ENDPOINT", DEFAULT_ENDPOINT)

    def load_instrumentor(self, entry_point, **kwargs) -> None:
        disabled = {x.strip() for x in os.environ.get("STACKEYE_DISABLED_INSTRUMENTATIONS", "").split(",")}
        if entry_point.name not in disabled:
            auto.load_when_imported(entry_point, **kwargs)
