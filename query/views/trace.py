"""trace: every span of one trace as a tree (depth-first, children by start time) with self time
— the span's duration minus the time covered by its children — and the call-stack frames the
instrumentation attached (see callstack_format.py). The time range is found from the trace id
(otel_traces_trace_id_ts), so no ``since`` is needed."""
from __future__ import annotations

import dataclasses
from typing import Any

from stackeye.query.views import callstack_format
from stackeye.query.views import sql as q
from stackeye.query.views.base import View
from stackeye.query.views.params import Param, Params


@dataclasses.dataclass(frozen=True)
class SpanRow:
    span_id: str
    parent_span_id: str
    depth: int
    service: str
    name: str
    kind: str
    start: str  # RFC 3339
    offset_ms: float  # start relative to the trace's first span
    duration_ms: float
    self_ms: float
    status: str
    status_message: str
    attributes: dict
    callstack: list  # frames, [] when none were recorded


TRACE_ID = Param("trace_id", "hex", None, "the trace id (32 hex digits)", required=True)


def build(p: Params, use_rollups: bool) -> str:
    tid = q.lit(p["trace_id"])
    return f"""
SELECT SpanId AS span_id, ParentSpanId AS parent_span_id, ServiceName AS service, SpanName AS name,
  replaceOne(SpanKind, 'SPAN_KIND_', '') AS kind,
  formatDateTime(Timestamp, '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC') AS start,
  toUnixTimestamp64Nano(Timestamp) AS start_ns, Duration AS duration_ns,
  replaceOne(StatusCode, 'STATUS_CODE_', '') AS status, StatusMessage AS status_message,
  SpanAttributes AS attributes,
  arrayFirst((a, n) -> n = {q.lit(callstack_format.EVENT)}, `Events.Attributes`, `Events.Name`)
    [{q.lit(callstack_format.ATTRIBUTE)}] AS callstack_json
FROM otel_traces
WHERE TraceId = {tid}
  AND Timestamp >= (SELECT min(Start) - INTERVAL 1 SECOND FROM otel_traces_trace_id_ts WHERE TraceId = {tid})
  AND Timestamp <= (SELECT max(End) + INTERVAL 1 SECOND FROM otel_traces_trace_id_ts WHERE TraceId = {tid})
ORDER BY start_ns, span_id
LIMIT 100000"""


def _covered(intervals: list[tuple[int, int]]) -> int:
    total, cur_s, cur_e = 0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def shape(results: list[list[dict]], p: Params) -> tuple[list[dict], dict[str, Any]]:
    spans = results[0]
    if not spans:
        return [], {"trace_id": p["trace_id"], "found": False}
    by_id = {s["span_id"]: s for s in spans}
    children: dict[str, list[dict]] = {}
    roots = []
    for s in spans:
        parent = s["parent_span_id"]
        if parent and parent in by_id and parent != s["span_id"]:
            children.setdefault(parent, []).append(s)
        else:
            roots.append(s)  # true roots, and orphans whose parent was not received
    t0 = min(int(s["start_ns"]) for s in spans)
    out: list[dict] = []
    seen: set[str] = set()

    def visit(s: dict, depth: int) -> None:
        if s["span_id"] in seen:
            return
        seen.add(s["span_id"])
        start, dur = int(s["start_ns"]), int(s["duration_ns"])
        kids = children.get(s["span_id"], [])
        clipped = [(max(start, int(c["start_ns"])), min(start + dur, int(c["start_ns"]) + int(c["duration_ns"])))
                   for c in kids]
        self_ns = dur - _covered([(a, b) for a, b in clipped if b > a])
        out.append({
            **{k: s[k] for k in ("span_id", "parent_span_id", "service", "name", "kind", "start", "status",
                                 "status_message", "attributes")},
            "depth": depth, "offset_ms": round((start - t0) / 1e6, 3), "duration_ms": round(dur / 1e6, 3),
            "self_ms": round(self_ns / 1e6, 3),
            "callstack": callstack_format.parse_frames(s["callstack_json"]) if s["callstack_json"] else [],
        })
        for c in kids:
            visit(c, depth + 1)

    for r in roots:
        visit(r, 0)
    end = max(int(s["start_ns"]) + int(s["duration_ns"]) for s in spans)
    services = sorted({s["service"] for s in spans})
    return out, {"trace_id": p["trace_id"], "found": True, "duration_ms": round((end - t0) / 1e6, 3),
                 "span_count": len(spans), "services": services}


VIEW = View(
    "trace", "all spans of one trace as a tree, with self time and call stacks",
    SpanRow, (TRACE_ID,), build, shape=shape,
    examples=("stackeye query trace 4bf92f3577b34da6a3ce929d0e0e4736",),
)
