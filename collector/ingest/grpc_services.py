"""Extra gRPC services mounted on the ingest server beside OTLP (one registration line each).

Each entry is ``"module:function"``; the function is called as ``function(server, context)`` with
the ``grpc.Server`` and the :class:`stackeye.app.embedded.Context` (storage, queue, metrics,
config) before the server starts.
"""
from __future__ import annotations

import importlib

SERVICES: list[str] = [
    "stackeye.collector.ingest.agent_service:mount",  # stackeye.agent.v1 (host agents)
]


def mount_all(server, context) -> None:
    for spec in SERVICES:
        module, _, func = spec.partition(":")
        getattr(importlib.import_module(module), func)(server, context)
