"""Every built-in trigger template, one line each: the module ``stackeye.events.templates.<name>``
defines ``TEMPLATE``."""
from __future__ import annotations

import difflib
import importlib

from stackeye.events.templates.base import Template

TEMPLATES = [
    "error_rate",
    "latency_slo",
    "apdex",
    "middleware_down",
    "agent_silent",
    "throughput_drop",
    "host_cpu",
    "host_memory",
    "host_disk",
    "kafka_lag",
    "stackeye_health",
]


def get(name: str) -> Template:
    """The template ``name``; KeyError naming the nearest one."""
    if name not in TEMPLATES:
        near = difflib.get_close_matches(name, TEMPLATES, n=1)
        hint = f"did you mean {near[0]!r}?" if near else f"templates: {', '.join(TEMPLATES)}"
        raise KeyError(f"unknown template {name!r}; {hint}")
    template = importlib.import_module(f"stackeye.events.templates.{name}").TEMPLATE
    if template.name != name:
        raise RuntimeError(f"module {name} defines template {template.name!r}")
    return template


def all_templates() -> list[Template]:
    return [get(n) for n in TEMPLATES]
