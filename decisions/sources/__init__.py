"""Routing sources: where the servers of an upstream set and their load come from.

A source module ``stackeye.decisions.sources.<name>`` defines::

    server_loads(source, upstream, settings, window) -> list[ServerLoad]

``source`` is anything with ``.query(sql)`` (the storage), ``upstream`` the policy table's key,
``settings`` its RoutingSettings, ``window`` the input window (its end is "now"). Each
:class:`~stackeye.decisions.model.ServerLoad` pools every caller's view of that server. One line
per source below; a routing policy picks one with ``source = "<name>"``.
"""
from __future__ import annotations

import importlib

SOURCES = {
    "instances": "the instances of a service, from their SERVER spans (server = service.instance.id)",
    "peers": "the host:port peers of the upstream service, from every caller's CLIENT spans",
    "gateway": "the upstream servers a gateway's access log reports (nginx, HAProxy: the agent parses them)",
}


def get(name: str):
    """The module of source ``name``."""
    if name not in SOURCES:
        raise KeyError(f"unknown routing source {name!r}; sources: {', '.join(SOURCES)}")
    return importlib.import_module(f"stackeye.decisions.sources.{name}")


def server_loads(name: str, source, upstream: str, settings, window) -> list:
    return get(name).server_loads(source, upstream, settings, window)
