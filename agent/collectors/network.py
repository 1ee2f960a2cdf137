"""Network I/O (system.network.*), from psutil.net_io_counters(pernic=True)."""
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
class NetworkConfig:
    enabled: bool = setting(True, "Collect system.network.io, .packets, .errors, .dropped per interface "
                                  "(cumulative), and per-second rates system.network.io.rate and "
                                  "system.network.packets.rate.")
    exclude_devices: str = setting(r"^lo$", "Interfaces to skip (regex on the interface name).")


_FIELDS = (
    ("system.network.io", "bytes_recv", "bytes_sent", "By", "system.network.io.rate"),
    ("system.network.packets", "packets_recv", "packets_sent", "{packet}", "system.network.packets.rate"),
    ("system.network.errors", "errin", "errout", "{error}", None),
    ("system.network.dropped", "dropin", "dropout", "{packet}", None),
)


def parse_net_io(per_nic: Mapping[str, Mapping[str, float]], counters: Counters, now: float,
                 exclude: str = "") -> list[Point]:
    """Points from {nic: net_io_counters()._asdict()}; NICs that vanished are forgotten."""
    skip = re.compile(exclude) if exclude else None
    points: list[Point] = []
    for dev, c in sorted(per_nic.items()):
        if skip and skip.search(dev):
            continue
        for name, rx, tx, unit, rate in _FIELDS:
            for direction, key in (("receive", rx), ("transmit", tx)):
                points += counter_points(counters, name, c[key], now, unit,
                                         {"device": dev, "direction": direction}, rate)
    counters.end_cycle(now)
    return points


@register("network", default_enabled=True, config=NetworkConfig)
class NetworkCollector:
    """Bytes, packets, errors and drops per interface and direction (system.network.*)."""

    def __init__(self, config: NetworkConfig):
        self.config = config
        self.counters = Counters(first_start=psutil.boot_time())

    def collect(self) -> list[Point]:
        raw = psutil.net_io_counters(pernic=True) or {}
        return parse_net_io({d: c._asdict() for d, c in raw.items()}, self.counters, time.time(),
                            self.config.exclude_devices)
