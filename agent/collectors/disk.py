"""Disk I/O (system.disk.*), from psutil.disk_io_counters(perdisk=True)."""
from __future__ import annotations

import dataclasses
import re
import time
from typing import Mapping

import psutil

from stackeye.core.config import setting

from ..model import Point
from ..rates import Counters, counter_points
from ..registry import register


@dataclasses.dataclass(frozen=True)
class DiskConfig:
    enabled: bool = setting(True, "Collect system.disk.io, .operations, .io_time, .operation_time per device "
                                  "(cumulative), and per-second rates system.disk.io.rate and "
                                  "system.disk.operations.rate.")
    exclude_devices: str = setting(r"^(loop|ram|zram|fd)\d+$", "Devices to skip (regex on the device name).")


def parse_disk_io(per_disk: Mapping[str, Mapping[str, float]], counters: Counters, now: float,
                  exclude: str = "") -> list[Point]:
    """Points from {device: disk_io_counters()._asdict()}; devices that vanished are forgotten."""
    skip = re.compile(exclude) if exclude else None
    points: list[Point] = []
    for dev, c in sorted(per_disk.items()):
        if skip and skip.search(dev):
            continue
        for direction in ("read", "write"):
            a = {"device": dev, "direction": direction}
            points += counter_points(counters, "system.disk.io", c[f"{direction}_bytes"], now, "By", a, "system.disk.io.rate")
            points += counter_points(counters, "system.disk.operations", c[f"{direction}_count"], now, "{operation}", a,
                                     "system.disk.operations.rate")
            points += counter_points(counters, "system.disk.operation_time", c[f"{direction}_time"] / 1000, now, "s", a)
        if "busy_time" in c:
            points += counter_points(counters, "system.disk.io_time", c["busy_time"] / 1000, now, "s", {"device": dev})
    counters.end_cycle(now)
    return points


@register("disk", default_enabled=True, config=DiskConfig)
class DiskCollector:
    """Bytes, operations and time per block device (system.disk.*)."""

    def __init__(self, config: DiskConfig):
        self.config = config
        self.counters = Counters(first_start=psutil.boot_time())

    def collect(self) -> list[Point]:
        raw = psutil.disk_io_counters(perdisk=True) or {}
        return parse_disk_io({d: c._asdict() for d, c in raw.items()}, self.counters, time.time(),
                             self.config.exclude_devices)
