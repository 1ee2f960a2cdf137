"""Top-N processes by CPU and memory (process.*); off by default (it walks every process)."""
from __future__ import annotations

import dataclasses
import time
from typing import Iterable, Mapping

import psutil

from stackeye.core.config import setting

from ..model import Point
from ..registry import register


@dataclasses.dataclass(frozen=True)
class ProcessConfig:
    enabled: bool = setting(False, "Report the top processes by CPU and by memory (process.cpu.utilization, "
                                   "process.memory.usage).")
    top: int = setting(5, "How many processes of each top list.", positive=True)


def parse_processes(procs: Iterable[Mapping], n: int) -> list[Point]:
    """Points for the union of the top ``n`` by ``cpu`` (0..1 of one core) and by ``rss``."""
    procs = list(procs)
    by_cpu = sorted(procs, key=lambda p: p["cpu"], reverse=True)[:n]
    by_mem = sorted(procs, key=lambda p: p["rss"], reverse=True)[:n]
    chosen = {p["pid"]: p for p in by_cpu + by_mem}
    points = []
    for p in chosen.values():
        attrs = {"process.pid": str(p["pid"]), "process.executable.name": p["name"]}
        points.append(Point("process.cpu.utilization", p["cpu"], attrs, "gauge", "1"))
        points.append(Point("process.memory.usage", float(p["rss"]), attrs, "sum", "By", None, False))
    return points


@register("process", default_enabled=False, config=ProcessConfig)
class ProcessCollector:
    """Top-N processes by CPU and resident memory (process.*)."""

    def __init__(self, config: ProcessConfig):
        self.config = config
        self.prev: dict[int, tuple[float, float]] = {}

    def collect(self) -> list[Point]:
        now, cur, procs = time.monotonic(), {}, []
        for p in psutil.process_iter(["pid", "name", "cpu_times", "memory_info"]):
            info = p.info
            if not info.get("cpu_times") or not info.get("memory_info"):
                continue
            cpu_s = info["cpu_times"].user + info["cpu_times"].system
            cur[info["pid"]] = (now, cpu_s)
            prev = self.prev.get(info["pid"])
            util = (cpu_s - prev[1]) / (now - prev[0]) if prev and now > prev[0] and cpu_s >= prev[1] else 0.0
            procs.append({"pid": info["pid"], "name": info["name"] or "", "cpu": util, "rss": info["memory_info"].rss})
        self.prev = cur
        return parse_processes(procs, self.config.top)
