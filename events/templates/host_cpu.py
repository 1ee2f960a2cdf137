"""host_cpu: a host whose CPU use (% of all its CPUs, mean over the window) exceeds a limit.

Measured from the agent's ``system.cpu.utilization`` gauge as the hosts view measures it:
100 × (1 − the mean of the ``idle`` state's points), so the alert and the view's ``cpu_pct`` agree.
An SQL rule over ``otel_metrics_gauge`` rather than a rule on the hosts view: the view gives one
row per host *and interval*, a rule needs one number per host for the whole window.
"""
from __future__ import annotations

from stackeye.events.templates.base import Template, TemplateParam, equals, number

HOST = "ResourceAttributes['host.name']"


def build(p) -> dict:
    sql = (f"SELECT {HOST} AS host, round(100 * (1 - avg(Value)), 3) AS value FROM otel_metrics_gauge "
           f"WHERE MetricName = 'system.cpu.utilization' AND Attributes['state'] = 'idle' AND {HOST} != ''"
           f"{equals(HOST, p['host'])} AND TimeUnix >= {{from}} AND TimeUnix < {{to}} GROUP BY host")
    return {"sql": sql, "op": ">", "threshold": number(p, "max_pct", positive=True), "window": p["window"]}


TEMPLATE = Template(
    "host_cpu", "a host whose CPU use (%, mean over the window) exceeds max_pct",
    (TemplateParam("host", "", "the host.name ('' : every host, one alert each)"),
     TemplateParam("max_pct", "90", "the highest acceptable CPU use in percent of all CPUs"),
     TemplateParam("window", "5m", "the time range averaged")),
    build, {"max_pct": "80"},
)
