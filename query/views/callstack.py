"""callstack: the call-stack records of a route's slow requests, merged into one tree.

Frames are merged by call path (the signatures from the root down), so the same function reached
two ways stays two rows. ``time_pct`` is the frame's total time as a share of all the sampled
requests' time; ``self_pct`` its own time. Rows are depth-first, heaviest child first. Reads the
newest ``samples`` records (see callstack_format.py for the record)."""
from __future__ import annotations

import dataclasses
from typing import Any

from stackeye.query.views import callstack_format, common
from stackeye.query.views import sql as q
from stackeye.query.views.base import View
from stackeye.query.views.params import Param, Params


@dataclasses.dataclass(frozen=True)
class FrameRow:
    depth: int
    signature: str
    samples: int  # requests whose record has this frame
    calls: int
    total_ms: float
    self_ms: float
    avg_ms: float  # total_ms / samples
    time_pct: float
    self_pct: float


SERVICE = Param("service", help="the service", required=True)
ROUTE = Param("route", help="the route (as the transactions view shows it); default: every route")
SAMPLES = Param("samples", "int", 200, "newest call-stack records to merge", minimum=1, maximum=5000)


def build(p: Params, use_rollups: bool) -> str:
    route = f"AND {q.ROUTE} = {q.lit(p['route'])}" if p["route"] else ""
    return f"""
SELECT TraceId AS trace_id,
  arrayFirst((a, n) -> n = {q.lit(callstack_format.EVENT)}, `Events.Attributes`, `Events.Name`)
    [{q.lit(callstack_format.ATTRIBUTE)}] AS frames
FROM otel_traces
WHERE {q.in_window('Timestamp', p.window)} AND {common.eq('ServiceName', p['service'])}
  AND has(`Events.Name`, {q.lit(callstack_format.EVENT)}) {route}
ORDER BY Timestamp DESC
LIMIT {int(p['samples'])}"""


def shape(results: list[list[dict]], p: Params) -> tuple[list[dict], dict[str, Any]]:
    nodes: dict[tuple, dict] = {}
    grand = 0.0
    for rec in results[0]:
        frames = callstack_format.parse_frames(rec["frames"])
        path: list[str] = []
        seen: set[tuple] = set()
        for f in frames:
            path = path[: f["depth"]] + [f["signature"]]
            key = tuple(path)
            n = nodes.setdefault(key, {"depth": f["depth"], "signature": f["signature"], "samples": 0,
                                       "calls": 0, "total_ms": 0.0, "self_ms": 0.0})
            n["calls"] += f["calls"]
            n["total_ms"] += f["total_ms"]
            n["self_ms"] += f["self_ms"]
            if key not in seen:
                n["samples"] += 1
                seen.add(key)
            if f["depth"] == 0:
                grand += f["total_ms"]
    children: dict[tuple, list[tuple]] = {}
    for key in nodes:
        children.setdefault(key[:-1], []).append(key)
    rows: list[dict] = []

    def visit(parent: tuple) -> None:
        for key in sorted(children.get(parent, []), key=lambda k: (-nodes[k]["total_ms"], k[-1])):
            n = nodes[key]
            rows.append({**n, "total_ms": round(n["total_ms"], 3), "self_ms": round(n["self_ms"], 3),
                         "avg_ms": round(n["total_ms"] / n["samples"], 3),
                         "time_pct": round(100 * n["total_ms"] / grand, 3) if grand else 0.0,
                         "self_pct": round(100 * n["self_ms"] / grand, 3) if grand else 0.0})
            visit(key)

    visit(())
    return rows, {"records": len(results[0])}


VIEW = View(
    "callstack", "merged call-stack frames of a route's slow requests: signature, time %, times",
    FrameRow, (SERVICE, ROUTE, SAMPLES), build, shape=shape, default_since="24h",
    examples=("stackeye query callstack --service checkout --route 'POST /checkout' --since 24h",),
)
