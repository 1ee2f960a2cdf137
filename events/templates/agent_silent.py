"""agent_silent: a host agent whose last heartbeat (``stackeye_agents``) is older than ``after``."""
from __future__ import annotations

from stackeye.core.units import parse_duration
from stackeye.events.templates.base import Template, TemplateError, TemplateParam


def build(p) -> dict:
    try:
        after = parse_duration(p["after"])
    except ValueError as exc:
        raise TemplateError("after", str(exc)) from None
    sql = ("SELECT HostName AS host, AgentId AS agent, "
           "dateDiff('millisecond', max(LastHeartbeat), {to}) / 1000 AS value "
           "FROM stackeye_agents GROUP BY HostName, AgentId")
    return {"sql": sql, "op": ">", "threshold": after}


TEMPLATE = Template(
    "agent_silent", "a host agent that has sent no heartbeat for `after`",
    (TemplateParam("after", "2m", "the silence, a duration like 90s or 5m"),),
    build, {"after": "5m"},
)
