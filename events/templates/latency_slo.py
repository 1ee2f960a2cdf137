"""latency_slo: a service's p95 or p99 latency above its SLO, in milliseconds."""
from __future__ import annotations

from stackeye.events.templates.base import Template, TemplateError, TemplateParam, number, service_where

QUANTILES = ("p50", "p95", "p99")


def build(p) -> dict:
    if p["quantile"] not in QUANTILES:
        raise TemplateError("quantile", f"expected one of {', '.join(QUANTILES)}, got {p['quantile']!r}")
    return {"view": "services", "value": f"{p['quantile']}_ms", "by": ("service",), "where": service_where(p),
            "op": ">", "threshold": number(p, "slo_ms", positive=True), "window": p["window"]}


TEMPLATE = Template(
    "latency_slo", "a service whose p95 (or p99) latency exceeds its SLO",
    (TemplateParam("service", "", "the service ('' : every service)"),
     TemplateParam("slo_ms", None, "the latency objective in milliseconds"),
     TemplateParam("quantile", "p95", f"which quantile: {', '.join(QUANTILES)}"),
     TemplateParam("window", "5m", "the time range measured")),
    build, {"slo_ms": "300", "quantile": "p99"},
)
