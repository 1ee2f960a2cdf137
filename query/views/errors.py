"""errors: error spans grouped by exception type, message fingerprint, service and route: count,
first/last seen and a sample trace (the newest).

An error span is one with status Error or an ``exception`` event. Type and message come from its
first ``exception`` event (``exception.type``, ``exception.message``), else the status message.
The fingerprint is the message with numbers, hex ids and quoted strings replaced by ``?``, so
"user 42 not found" and "user 7 not found" group together. Served from the ``errors`` rollup."""
from __future__ import annotations

import dataclasses

from stackeye.query.views import common, rollups
from stackeye.query.views import sql as q
from stackeye.query.views.base import View
from stackeye.query.views.params import OFFSET, SERVICE, Param, Params, limit, sort


@dataclasses.dataclass(frozen=True)
class ErrorRow:
    service: str
    route: str
    exception_type: str
    message: str  # the fingerprint text
    fingerprint: str  # hex hash of type + message fingerprint
    count: int
    first_seen: str  # RFC 3339
    last_seen: str
    sample_trace_id: str


ORDER = {"count": "count", "last_seen": "last_seen"}
TYPE = Param("exception_type", help="only this exception type")


def build(p: Params, use_rollups: bool) -> str:
    where = q.and_all(common.eq("ServiceName", p["service"]), common.eq("ExceptionType", p["exception_type"]))
    states = rollups.states(rollups.ERRORS, p.window, where if where != "1" else "", use_rollups)
    return f"""
SELECT ServiceName AS service, Route AS route, ExceptionType AS exception_type, Message AS message,
  lower(hex(cityHash64(exception_type, message))) AS fingerprint, countMerge(Calls) AS count,
  formatDateTime(minMerge(FirstSeen), '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC') AS first_seen,
  formatDateTime(maxMerge(LastSeen), '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC') AS last_seen,
  argMaxMerge(SampleTrace) AS sample_trace_id
FROM ({states})
GROUP BY ServiceName, Route, ExceptionType, Message
{common.page(p, ORDER, 'service, route, exception_type, message')}"""


VIEW = View(
    "errors", "errors grouped by exception type, message fingerprint, service and route",
    ErrorRow, (sort(*ORDER), limit(), OFFSET, SERVICE, TYPE), build, uses_rollups=True,
    examples=("stackeye query errors --since 24h --service checkout",),
)
