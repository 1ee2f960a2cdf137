"""errors: error spans grouped by exception type, message fingerprint, service and route: count,
first/last seen and a sample trace.

An error span is one with status Error or an ``exception`` event. Type and message come from its
first ``exception`` event (``exception.type``, ``exception.message``), else the status message.
The fingerprint is the message with numbers, hex ids and quoted strings replaced by ``?``, so
"user 42 not found" and "user 7 not found" group together."""
from __future__ import annotations

import dataclasses

from stackeye.query.views import common
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

_EI = "arrayFirstIndex(n -> n = 'exception', `Events.Name`)"
_FINGERPRINT = (
    "replaceRegexpAll(replaceRegexpAll(replaceRegexpAll(msg, '\\'[^\\']*\\'|\"[^\"]*\"', '?'), "
    "'\\\\b[0-9a-fA-F]{8,}\\\\b|[0-9]+', '?'), '\\\\s+', ' ')"
)


def build(p: Params, use_rollups: bool) -> str:
    where = q.and_all(q.in_window("Timestamp", p.window), f"{q.IS_ERROR} OR has(`Events.Name`, 'exception')",
                      common.eq("ServiceName", p["service"]))
    having = f"WHERE exception_type = {q.lit(p['exception_type'])}" if p["exception_type"] else ""
    return f"""
SELECT ServiceName AS service, route, exception_type, message,
  lower(hex(cityHash64(exception_type, message))) AS fingerprint, count() AS count,
  formatDateTime(min(Timestamp), '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC') AS first_seen,
  formatDateTime(max(Timestamp), '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC') AS last_seen,
  argMax(TraceId, Timestamp) AS sample_trace_id
FROM (
  SELECT ServiceName, Timestamp, TraceId, {q.ROUTE} AS route, {_EI} AS ei,
    if(ei > 0, `Events.Attributes`[ei]['exception.type'], '') AS exception_type,
    if(ei > 0 AND `Events.Attributes`[ei]['exception.message'] != '', `Events.Attributes`[ei]['exception.message'],
       StatusMessage) AS msg,
    {_FINGERPRINT} AS message
  FROM otel_traces
  WHERE {where}
)
{having}
GROUP BY ServiceName, route, exception_type, message
{common.page(p, ORDER, 'service, route, exception_type, message')}"""


VIEW = View(
    "errors", "errors grouped by exception type, message fingerprint, service and route",
    ErrorRow, (sort(*ORDER), limit(), OFFSET, SERVICE, TYPE), build,
    examples=("stackeye query errors --since 24h --service checkout",),
)
