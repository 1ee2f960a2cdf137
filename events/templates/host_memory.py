"""host_memory: a host whose used memory (% of its total, mean over the window) exceeds a limit.

Measured from the agent's ``system.memory.utilization`` gauge, state ``used`` (psutil's "used":
page cache, buffers and reclaimable slab are not in it, so a host whose cache fills its RAM does
not alert). The hosts view's ``memory_used_pct`` is 100 × (1 − free), which counts the cache too:
on Linux it is the larger number, and the wrong one to page on.
"""
from __future__ import annotations

from stackeye.events.templates.base import Template, TemplateParam, host_gauge_rule


def build(p) -> dict:
    return host_gauge_rule(p, "system.memory.utilization", "round(100 * avg(Value), 3)",
                           " AND Attributes['state'] = 'used'")


TEMPLATE = Template(
    "host_memory", "a host whose used memory (%, cache excluded, mean over the window) exceeds max_pct",
    (TemplateParam("host", "", "the host.name ('' : every host, one alert each)"),
     TemplateParam("max_pct", "90", "the highest acceptable memory use in percent of the total"),
     TemplateParam("window", "5m", "the time range averaged")),
    build, {"max_pct": "85"},
)
