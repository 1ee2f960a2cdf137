"""middleware_down: a middleware instance whose agent collector reports ``<kind>.up = 0``."""
from __future__ import annotations

from stackeye.events.templates.base import Template, TemplateParam


def build(p) -> dict:
    return {"view": "middleware", "value": "last", "by": ("middleware", "instance", "host"),
            "where": {"middleware": p["middleware"], "metric": f"{p['middleware']}.up"},
            "op": "<", "threshold": 1.0, "window": p["window"]}


TEMPLATE = Template(
    "middleware_down", "a middleware instance (redis, mysql, postgres, nginx, kafka…) that is down",
    (TemplateParam("middleware", None, "the kind of middleware, as the agent's collector names it"),
     TemplateParam("window", "2m", "the time range of the latest up sample")),
    build, {"middleware": "redis"},
)
