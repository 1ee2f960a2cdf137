"""Memory and swap (system.memory.*, system.paging.usage), from psutil."""
from __future__ import annotations

import dataclasses
from typing import Mapping

import psutil

from stackeye.core.config import setting

from ..model import Point
from ..registry import register


@dataclasses.dataclass(frozen=True)
class MemoryConfig:
    enabled: bool = setting(True, "Collect system.memory.usage/utilization/limit and system.paging.usage.")


def parse_memory(vm: Mapping[str, int], swap: Mapping[str, int] | None = None) -> list[Point]:
    """Points from psutil.virtual_memory()._asdict() (and swap_memory()._asdict())."""
    total = vm["total"]
    states = {"used": vm["used"], "free": vm["free"]}
    for state, key in (("cached", "cached"), ("buffered", "buffers"), ("slab_reclaimable", "slab")):
        if key in vm:
            states[state] = vm[key]
    points = [Point("system.memory.usage", float(v), {"state": s}, "sum", "By", None, False) for s, v in states.items()]
    if total:
        points += [Point("system.memory.utilization", v / total, {"state": s}, "gauge", "1") for s, v in states.items()]
    points.append(Point("system.memory.limit", float(total), {}, "sum", "By", None, False))
    if "available" in vm:
        points.append(Point("system.linux.memory.available", float(vm["available"]), {}, "sum", "By", None, False))
    if swap:
        points += [Point("system.paging.usage", float(swap[s]), {"state": s}, "sum", "By", None, False) for s in ("used", "free")]
        if swap.get("total"):
            points += [Point("system.paging.utilization", swap[s] / swap["total"], {"state": s}, "gauge", "1")
                       for s in ("used", "free")]
    return points


@register("memory", default_enabled=True, config=MemoryConfig)
class MemoryCollector:
    """Memory usage and utilization by state, swap usage (system.memory.*, system.paging.*)."""

    def __init__(self, config: MemoryConfig):
        self.config = config

    def collect(self) -> list[Point]:
        return parse_memory(psutil.virtual_memory()._asdict(), psutil.swap_memory()._asdict())
