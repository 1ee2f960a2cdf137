"""apdex: a service's Apdex score (satisfied + tolerating/2 over all calls) below a floor."""
from __future__ import annotations

from stackeye.events.templates.base import Template, TemplateParam, number, service_where


def build(p) -> dict:
    where = {**service_where(p), "apdex_t_ms": str(int(number(p, "t_ms", positive=True)))}
    return {"view": "services", "value": "apdex", "by": ("service",), "where": where,
            "op": "<", "threshold": number(p, "min_score"), "window": p["window"]}


TEMPLATE = Template(
    "apdex", "a service whose Apdex falls below min_score",
    (TemplateParam("service", "", "the service ('' : every service)"),
     TemplateParam("min_score", "0.85", "the lowest acceptable score, 0..1"),
     TemplateParam("t_ms", "500", "Apdex's T: calls faster are satisfied, up to 4T tolerating"),
     TemplateParam("window", "5m", "the time range measured")),
    build, {"min_score": "0.9"},
)
