"""logs: log records newest first, by service, minimum severity, text and trace id; paginated.

``text`` is split into words; a record matches when its body has every word as a whole token
(``hasToken``, case-sensitive, served by the body's token bloom-filter index)."""
from __future__ import annotations

import dataclasses
import re

from stackeye.query.views import common
from stackeye.query.views import sql as q
from stackeye.query.views.base import View
from stackeye.query.views.params import HOST, OFFSET, SERVICE, Param, Params, limit


@dataclasses.dataclass(frozen=True)
class LogRow:
    timestamp: str  # RFC 3339, nanoseconds
    service: str
    host: str
    severity: str
    severity_number: int
    body: str
    trace_id: str
    span_id: str


# OTLP severity numbers: TRACE 1-4, DEBUG 5-8, INFO 9-12, WARN 13-16, ERROR 17-20, FATAL 21-24.
LEVELS = {"trace": 1, "debug": 5, "info": 9, "warn": 13, "error": 17, "fatal": 21}
_TEXT_LEVELS = {"trace": 1, "debug": 5, "info": 9, "information": 9, "warn": 13, "warning": 13,
                "error": 17, "err": 17, "critical": 21, "fatal": 21}
SEVERITY = Param("severity", "choice", None, "minimum severity", choices=tuple(LEVELS))
TEXT = Param("text", help="words the body must contain (whole tokens)")
TRACE_ID = Param("trace_id", "hex", None, "only records of this trace")
_TOKEN = re.compile(r"[A-Za-z0-9_\u0080-\uffff]+")


def severity_cond(level: str) -> str:
    n = LEVELS[level]
    texts = [t.upper() for t, v in _TEXT_LEVELS.items() if v >= n]
    return (f"SeverityNumber >= {n} OR (SeverityNumber = 0 AND upper(SeverityText) IN "
            f"({', '.join(q.lit(t) for t in texts)}))")


def build(p: Params, use_rollups: bool) -> str:
    conds = [q.in_window("Timestamp", p.window), common.eq("ServiceName", p["service"]),
             common.eq("ResourceAttributes['host.name']", p["host"]),
             common.eq("TraceId", p["trace_id"])]
    if p["severity"]:
        conds.append(severity_cond(p["severity"]))
    if p["text"]:
        words = _TOKEN.findall(p["text"])
        conds += [f"hasToken(Body, {q.lit(w)})" for w in words]
        if not words:
            conds.append(f"position(Body, {q.lit(p['text'])}) > 0")
    return f"""
SELECT formatDateTime(Timestamp, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC') AS timestamp, ServiceName AS service,
  ResourceAttributes['host.name'] AS host, SeverityText AS severity, SeverityNumber AS severity_number,
  Body AS body, TraceId AS trace_id, SpanId AS span_id
FROM otel_logs
WHERE {q.and_all(*conds)}
ORDER BY Timestamp DESC, body
LIMIT {int(p['limit'])} OFFSET {int(p['offset'])}"""


VIEW = View(
    "logs", "log records newest first: by service, severity, text, trace id",
    LogRow, (limit(), OFFSET, SERVICE, HOST, SEVERITY, TEXT, TRACE_ID), build,
    examples=("stackeye query logs --service checkout --severity error --text timeout",),
)
