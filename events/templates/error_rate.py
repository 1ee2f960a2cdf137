"""error_rate: the fraction of a service's calls that fail, over the window, above a limit."""
from __future__ import annotations

from stackeye.events.templates.base import Template, TemplateParam, number, service_where


def build(p) -> dict:
    return {"view": "services", "value": "error_rate", "by": ("service",), "where": service_where(p),
            "op": ">", "threshold": number(p, "max_rate"), "window": p["window"]}


TEMPLATE = Template(
    "error_rate", "a service whose error rate (0..1) exceeds max_rate",
    (TemplateParam("service", "", "the service ('' : every service, one alert each)"),
     TemplateParam("max_rate", "0.05", "the highest acceptable fraction of failed calls"),
     TemplateParam("window", "5m", "the time range measured")),
    build, {"max_rate": "0.1"},
)
