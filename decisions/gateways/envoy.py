"""Envoy: an EDS ``ClusterLoadAssignment`` (JSON), for a file-based or xDS endpoint source.

Each decision is an ``lb_endpoint`` with its ``socket_address``, a ``load_balancing_weight`` (Envoy
needs at least 1) and a ``health_status``: HEALTHY when active with a weight, DRAINING when drained
or active at weight 0, UNHEALTHY when ejected or its breaker is open. Envoy routes only to
HEALTHY endpoints (DRAINING ones finish what they have). The ``@type`` lets the object sit in a
DiscoveryResponse's ``resources`` as it is.
"""
from __future__ import annotations

import json

from stackeye.decisions.gateways.targets import RenderError, RenderOptions, targets

TYPE_URL = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"


def health(mode: str, weight: int) -> str:
    if mode == "down":
        return "UNHEALTHY"
    if mode == "drain" or weight == 0:
        return "DRAINING"
    return "HEALTHY"


def assignment(upstream: str, decisions, options: RenderOptions) -> dict:
    servers = targets(upstream, decisions, options)
    if not servers:
        raise RenderError(f"no routing decisions for upstream {upstream!r}: nothing to render")
    endpoints = [{
        "endpoint": {"address": {"socket_address": {"address": t.address.host, "port_value": t.address.port}}},
        "load_balancing_weight": max(1, t.weight),
        "health_status": health(t.mode, t.weight),
    } for t in servers]
    return {"@type": TYPE_URL, "cluster_name": options.backend or upstream, "endpoints": [{"lb_endpoints": endpoints}]}


def render(upstream: str, decisions, options: RenderOptions) -> str:
    return json.dumps(assignment(upstream, decisions, options), indent=2) + "\n"
