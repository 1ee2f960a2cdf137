"""Every view, one line each: the module ``stackeye.query.views.<name>`` defines ``VIEW``."""
from __future__ import annotations

import importlib

from stackeye.query.views.base import View

VIEWS = [
    "services",
    "transactions",
    "external",
    "database",
    "servers",
    "errors",
    "logs",
    "trace",
    "service_map",
    "callstack",
    "gateway",
    "hosts",
    "middleware",
    "timeseries",
]

_cache: dict[str, View] = {}


def get(name: str) -> View:
    """The view called ``name`` (``service-map`` and ``service_map`` both work); KeyError lists them."""
    key = name.replace("-", "_")
    if key not in VIEWS:
        raise KeyError(f"unknown view {name!r}; views: {', '.join(VIEWS)}")
    if key not in _cache:
        view = importlib.import_module(f"stackeye.query.views.{key}").VIEW
        if view.name != key:
            raise RuntimeError(f"module {key} defines view {view.name!r}")
        _cache[key] = view
    return _cache[key]


def all_views() -> list[View]:
    return [get(n) for n in VIEWS]
