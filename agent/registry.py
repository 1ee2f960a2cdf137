"""One line per collector: ``@register("nginx", default_enabled=False, config=NginxConfig)``.

A collector is a class built from its frozen config dataclass (whose ``enabled`` default is
``default_enabled``) with ``collect() -> list[Point]``. The registry is the only place that knows
them all: :func:`all_collectors` imports every module listed in :data:`MODULES`, the config
loader finds each section's dataclass here, and ``print-config`` renders them.

Running collectors (:class:`Instance`) adds what every collector gets for free: a timeout (a slow
middleware never blocks the others), per-collector ``stackeye.agent.collector.duration`` and
``...success`` self-metrics, and for middleware an ``up`` gauge that is 0 with a logged reason
when the server is down.
"""
from __future__ import annotations

import dataclasses
import importlib
import logging
import time
from typing import Callable

from .model import Point, gauge

log = logging.getLogger("stackeye.agent")

# One line per collector module (agent/collectors/<name>.py).
MODULES = [
    "cpu", "memory", "load", "disk", "filesystem", "network", "processes", "process",
    "nginx", "redis", "mysql", "postgres", "kafka", "jolokia",
    "nginx_access", "haproxy_access",
]


@dataclasses.dataclass(frozen=True)
class Registered:
    name: str
    default_enabled: bool
    factory: Callable
    config_class: type
    doc: str
    middleware: bool  # reports an `up` gauge and stays quiet (logs once) when its server is down


_REGISTRY: dict[str, Registered] = {}
_loaded = False


def register(name: str, default_enabled: bool, config: type, middleware: bool = False):
    def wrap(cls):
        if name in _REGISTRY and _REGISTRY[name].factory is not cls:
            raise RuntimeError(f"two collectors registered as {name!r}")
        _REGISTRY[name] = Registered(name, default_enabled, cls, config, cls.__doc__ or "", middleware)
        cls.collector_name = name
        return cls
    return wrap


def _load() -> None:
    global _loaded
    if not _loaded:
        for mod in MODULES:
            importlib.import_module(f"stackeye.agent.collectors.{mod}")
        _loaded = True


def all_collectors() -> list[Registered]:
    _load()
    return [_REGISTRY[n] for n in MODULES if n in _REGISTRY]


def get(name: str) -> Registered:
    _load()
    return _REGISTRY[name]


class Instance:
    """A configured collector with its bookkeeping; :meth:`run` never raises."""

    def __init__(self, reg: Registered, config):
        self.reg = reg
        self.config = config
        self.collector = reg.factory(config)
        self.last_error = ""
        self.successes = 0
        self.failures = 0

    @property
    def name(self) -> str:
        return self.reg.name

    def run(self) -> tuple[list[Point], float, bool]:
        """(points, duration seconds, success)."""
        t0 = time.perf_counter()
        try:
            points = list(self.collector.collect())
            ok = True
            if self.last_error:
                log.info("collector %s recovered", self.name)
            self.last_error = ""
        except Exception as exc:  # noqa: BLE001 - a collector failure is data, never a crash
            points, ok = [], False
            reason = f"{type(exc).__name__}: {exc}"
            if reason != self.last_error:
                log.warning("collector %s failed: %s", self.name, reason)
            self.last_error = reason
        duration = time.perf_counter() - t0
        if ok:
            self.successes += 1
        else:
            self.failures += 1
        if self.reg.middleware:
            points.append(gauge(f"{self.name}.up", 1 if ok else 0, "1", **self.target_attrs()))
        return points, duration, ok

    def target_attrs(self) -> dict:
        target = getattr(self.collector, "target", None)
        return {"server__address": target} if target else {}

    def close(self) -> None:
        close = getattr(self.collector, "close", None)
        if close:
            try:
                close()
            except Exception:  # noqa: BLE001
                pass


def require(module: str, package: str):
    """Import an optional client library, or fail with the command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise RuntimeError(f"the Python package {package!r} is not installed: pip install 'stackeye[agent]' "
                           f"(or pip install {package})") from None
