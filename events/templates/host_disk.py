"""host_disk: a filesystem filling up — its latest used % above a limit, one alert per host and mount point.

Measured from the agent's ``system.filesystem.utilization`` gauge (used / total of each mounted
filesystem, attributes ``device``, ``mountpoint``, ``type``): the newest point in the window of
each host and mount point. (Disk *throughput*, ``system.disk.io.rate``, is the hosts view's
``disk_bytes_per_s``; a full disk is what breaks a host.)
"""
from __future__ import annotations

from stackeye.events.templates.base import Template, TemplateParam, equals, host_gauge_rule

MOUNT = "Attributes['mountpoint']"


def build(p) -> dict:
    return host_gauge_rule(p, "system.filesystem.utilization", "round(100 * argMax(Value, TimeUnix), 3)",
                           equals(MOUNT, p["mountpoint"]), by=(("mountpoint", MOUNT),))


TEMPLATE = Template(
    "host_disk", "a filesystem whose used space (% of its size) exceeds max_pct",
    (TemplateParam("host", "", "the host.name ('' : every host)"),
     TemplateParam("mountpoint", "", "the mount point, e.g. /var ('' : every one, one alert each)"),
     TemplateParam("max_pct", "90", "the highest acceptable use in percent of the filesystem's size"),
     TemplateParam("window", "5m", "how far back the latest point may be")),
    build, {"max_pct": "95", "mountpoint": "/"},
)
