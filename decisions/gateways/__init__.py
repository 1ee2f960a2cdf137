"""Routing decisions as a gateway's own configuration: one renderer per gateway, one line each.

Each module ``stackeye.decisions.gateways.<name>`` defines ``render(upstream, decisions, options)
-> str``, a pure function from an upstream's decisions (RoutingDecision or their JSON rows) and
:class:`~stackeye.decisions.gateways.targets.RenderOptions` to text the gateway reads: nginx's
``upstream`` block, HAProxy's ``backend`` section (and its runtime API commands), Envoy's EDS
``ClusterLoadAssignment``, Easegress' proxy filter pool. The actuators
(:mod:`stackeye.decisions.actuators`) put that text in place; ``stackeye decide routing --render``
prints it.
"""
from __future__ import annotations

import importlib

from stackeye.decisions.gateways.targets import RenderError, RenderOptions

# One line per gateway: the module stackeye.decisions.gateways.<name>.
RENDERERS = [
    "nginx",
    "haproxy",
    "envoy",
    "easegress",
]

__all__ = ["RENDERERS", "RenderError", "RenderOptions", "render", "renderer"]


def renderer(name: str):
    """The module rendering for gateway ``name``."""
    if name not in RENDERERS:
        raise RenderError(f"unknown gateway {name!r}; choose one of: {', '.join(RENDERERS)}")
    return importlib.import_module(f"stackeye.decisions.gateways.{name}")


def render(name: str, upstream: str, decisions, options: RenderOptions | None = None) -> str:
    return renderer(name).render(upstream, list(decisions), options or RenderOptions())
