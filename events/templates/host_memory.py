"""host_memory: a host whose used memory (% of its total, mean over the window) exceeds a limit.

Measured from the agent's ``system.memory.utilization`` gauge, state ``used`` (psutil's "used":
page cache, buffers and reclaimable slab are not in it, so a host whose cache fills its RAM does
not alert). The hosts view's ``memory_used_pct`` is 100 × (1 − free), which counts the cache too:
on Linux it is the larger number, and the wrong one to page on.
"""
from __future__ import annotations

from stackeye.events.templates.base import Template, TemplateParam, equals, number

HOST = "ResourceAttributes['host.name']"


def build(p) -> dict:
    sql = (f"SELECT {HOST} AS host, round(100 * avg(Value), 3) AS value FROM otel_metrics_gauge "
           f"WHERE MetricName = 'system.memory.utilization' AND Attributes['state'] = 'used' AND {HOST} != ''"
           f"{equals(HOST, p['host'])} AND TimeUnix >= {{from}} AND TimeUnix < {{to}} GROUP BY host")
    return {"sql": sql, "op": ">", "threshold": number(p, "max_pct", positive=True), "window": p["window"]}


TEMPLATE = Template(
    "host_memory", "a host whose used memory (%, cache excluded, mean over the window) exceeds max_pct",
    (TemplateParam("host", "", "the host.name ('' : every host, one alert each)"),
     TemplateParam("max_pct", "90", "the highest acceptable memory use in percent of the total"),
     TemplateParam("window", "5m", "the time range averaged")),
    build, {"max_pct": "85"},
)
