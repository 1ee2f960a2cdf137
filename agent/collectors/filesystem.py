"""Filesystem usage (system.filesystem.usage/utilization), from psutil.disk_partitions + disk_usage."""
from __future__ import annotations

import dataclasses
import re
from typing import Iterable, Mapping

import psutil

from stackeye.core.config import setting

from ..model import Point
from ..registry import register


@dataclasses.dataclass(frozen=True)
class FilesystemConfig:
    enabled: bool = setting(True, "Collect system.filesystem.usage (used/free/reserved) and "
                                  "system.filesystem.utilization.")
    exclude_types: str = setting(r"^(tmpfs|devtmpfs|squashfs|nsfs|proc|sysfs|cgroup2?|autofs|fuse\..*)$", "Filesystem types to skip (regex).")
    exclude_mountpoints: str = setting(r"^/(dev|proc|sys|run)(/|$)", "Mount points to skip (regex).")


def parse_filesystems(mounts: Iterable[tuple[Mapping[str, str], Mapping[str, int]]]) -> list[Point]:
    """Points from (partition._asdict(), disk_usage()._asdict()) pairs.

    "reserved" is what the filesystem keeps back for root: total - used - free."""
    points: list[Point] = []
    for part, usage in mounts:
        attrs = {"device": part["device"], "mountpoint": part["mountpoint"], "type": part["fstype"],
                 "mode": "ro" if "ro" in part.get("opts", "").split(",") else "rw"}
        total = usage["total"]
        states = {"used": usage["used"], "free": usage["free"],
                  "reserved": max(total - usage["used"] - usage["free"], 0)}
        for state, v in states.items():
            points.append(Point("system.filesystem.usage", float(v), {**attrs, "state": state}, "sum", "By", None, False))
        if total:
            points.append(Point("system.filesystem.utilization", usage["used"] / total, attrs, "gauge", "1"))
    return points


@register("filesystem", default_enabled=True, config=FilesystemConfig)
class FilesystemCollector:
    """Used, free and reserved bytes per mounted filesystem (system.filesystem.*)."""

    def __init__(self, config: FilesystemConfig):
        self.config = config
        self.skip_type = re.compile(config.exclude_types) if config.exclude_types else None
        self.skip_mount = re.compile(config.exclude_mountpoints) if config.exclude_mountpoints else None

    def collect(self) -> list[Point]:
        pairs, seen = [], set()
        for part in psutil.disk_partitions(all=False):
            if self.skip_type and self.skip_type.search(part.fstype):
                continue
            if self.skip_mount and self.skip_mount.search(part.mountpoint):
                continue
            if part.mountpoint in seen:
                continue
            seen.add(part.mountpoint)
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except OSError:
                continue
            pairs.append((part._asdict(), usage._asdict()))
        return parse_filesystems(pairs)
