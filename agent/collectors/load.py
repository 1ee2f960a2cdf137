"""Load average (system.cpu.load_average.1m|5m|15m), from <procfs>/loadavg."""
from __future__ import annotations

import dataclasses
import os

from stackeye.core.config import setting

from ..model import Point
from ..registry import register


@dataclasses.dataclass(frozen=True)
class LoadConfig:
    enabled: bool = setting(True, "Collect system.cpu.load_average.1m, .5m and .15m.")
    procfs: str = setting("/proc", "Where procfs is mounted (tests point this at a fixture folder).")


def parse_loadavg(text: str) -> list[Point]:
    """``/proc/loadavg`` ("0.52 0.58 0.59 1/467 12345") -> three gauges."""
    parts = text.split()
    if len(parts) < 3:
        raise ValueError(f"unexpected loadavg content: {text!r}")
    return [Point(f"system.cpu.load_average.{w}", float(v), {}, "gauge", "{thread}")
            for w, v in zip(("1m", "5m", "15m"), parts[:3])]


@register("load", default_enabled=True, config=LoadConfig)
class LoadCollector:
    """1, 5 and 15 minute load averages (system.cpu.load_average.*)."""

    def __init__(self, config: LoadConfig):
        self.config = config

    def collect(self) -> list[Point]:
        path = os.path.join(self.config.procfs, "loadavg")
        if os.path.exists(path):
            with open(path) as f:
                return parse_loadavg(f.read())
        one, five, fifteen = os.getloadavg()
        return parse_loadavg(f"{one} {five} {fifteen}")
