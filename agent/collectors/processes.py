"""Process counts by status and processes created (system.processes.*), from <procfs>/stat."""
from __future__ import annotations

import dataclasses
import os
import time

import psutil

from stackeye.core.config import setting

from ..model import Point
from ..rates import Counters, counter_points
from ..registry import register


@dataclasses.dataclass(frozen=True)
class ProcessesConfig:
    enabled: bool = setting(True, "Collect system.processes.count (by status) and system.processes.created.")
    procfs: str = setting("/proc", "Where procfs is mounted (tests point this at a fixture folder).")


def parse_proc_stat(text: str, total: int) -> dict[str, int]:
    """``/proc/stat`` + the number of processes -> {running, blocked, sleeping, created}."""
    fields = {}
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        if name in ("procs_running", "procs_blocked", "processes"):
            fields[name] = int(rest.split()[0])
    running, blocked = fields.get("procs_running", 0), fields.get("procs_blocked", 0)
    out = {"running": running, "blocked": blocked, "sleeping": max(total - running - blocked, 0)}
    if "processes" in fields:
        out["created"] = fields["processes"]
    return out


@register("processes", default_enabled=True, config=ProcessesConfig)
class ProcessesCollector:
    """Processes by status and forks since boot (system.processes.count, .created)."""

    def __init__(self, config: ProcessesConfig):
        self.config = config
        self.counters = Counters(first_start=psutil.boot_time())

    def collect(self) -> list[Point]:
        now = time.time()
        stat = os.path.join(self.config.procfs, "stat")
        if os.path.exists(stat):
            total = sum(1 for d in os.listdir(self.config.procfs) if d.isdigit())
            with open(stat) as f:
                counts = parse_proc_stat(f.read(), total)
        else:
            counts = {"running": 0, "blocked": 0, "sleeping": len(psutil.pids())}
        created = counts.pop("created", None)
        points = [Point("system.processes.count", float(v), {"status": s}, "sum", "{process}", None, False)
                  for s, v in counts.items()]
        if created is not None:
            points += counter_points(self.counters, "system.processes.created", created, now, "{process}", {})
        self.counters.end_cycle(now)
        return points
