"""host_cpu: a host whose CPU use (% of all its CPUs, mean over the window) exceeds a limit.

Measured from the agent's ``system.cpu.utilization`` gauge as the hosts view measures it:
100 × (1 − the mean of the ``idle`` state's points), so the alert and the view's ``cpu_pct`` agree.
An SQL rule over ``otel_metrics_gauge`` rather than a rule on the hosts view: the view gives one
row per host *and interval*, a rule needs one number per host for the whole window.
"""
from __future__ import annotations

from stackeye.events.templates.base import Template, TemplateParam, host_gauge_rule


def build(p) -> dict:
    return host_gauge_rule(p, "system.cpu.utilization", "round(100 * (1 - avg(Value)), 3)",
                           " AND Attributes['state'] = 'idle'")


TEMPLATE = Template(
    "host_cpu", "a host whose CPU use (%, mean over the window) exceeds max_pct",
    (TemplateParam("host", "", "the host.name ('' : every host, one alert each)"),
     TemplateParam("max_pct", "90", "the highest acceptable CPU use in percent of all CPUs"),
     TemplateParam("window", "5m", "the time range averaged")),
    build, {"max_pct": "80"},
)
