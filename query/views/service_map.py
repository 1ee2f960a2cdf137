"""service_map: who calls whom — edges caller → callee with calls, errors and p95, as nodes/edges.

- service → service: a SERVER/CONSUMER span whose parent span is in another service (raw spans,
  a parent/child join over the window; p95 is the callee's duration);
- service → database (node ``db:<db.system>``): from the ``db`` rollup;
- service → external peer (node ``ext:<host:port>``): from the ``external`` rollup, leaving out
  peers that the join resolved to an instrumented service.

Rows are the edges; the JSON answer adds ``nodes`` and ``edges``."""
from __future__ import annotations

import dataclasses
from typing import Any

from stackeye.query.views import common, rollups
from stackeye.query.views import sql as q
from stackeye.query.views.base import View
from stackeye.query.views.params import SERVICE, Params


@dataclasses.dataclass(frozen=True)
class EdgeRow:
    source: str
    target: str
    kind: str  # service | database | external
    calls: int
    errors: int
    error_rate: float
    p95_ms: float


def build(p: Params, use_rollups: bool) -> list[str]:
    w = p.window
    svc = p["service"]
    both = (f"AND (parent.ServiceName = {q.lit(svc)} OR child.ServiceName = {q.lit(svc)})" if svc else "")
    services = f"""
SELECT parent.ServiceName AS source, child.ServiceName AS target, 'service' AS kind, count() AS calls,
  countIf(child.StatusCode IN ('Error', 'STATUS_CODE_ERROR')) AS errors,
  {q.ms('quantile(0.95)(child.Duration)')} AS p95_ms, groupUniqArray(parent.peer) AS peers
FROM (
  SELECT TraceId, SpanId, ServiceName, {q.PEER} AS peer FROM otel_traces
  WHERE {q.in_window('Timestamp', w)}
) AS parent
INNER JOIN (
  SELECT TraceId, ParentSpanId, ServiceName, StatusCode, Duration FROM otel_traces
  WHERE {q.in_window('Timestamp', w)} AND ({q.ENTRY_KIND}) AND ParentSpanId != ''
) AS child ON child.TraceId = parent.TraceId AND child.ParentSpanId = parent.SpanId
WHERE parent.ServiceName != child.ServiceName {both}
GROUP BY source, target
ORDER BY source, target"""
    where = common.eq("ServiceName", svc)
    db = f"""
SELECT ServiceName AS source, concat('db:', DbSystem) AS target, 'database' AS kind,
  countMerge(Calls) AS calls, countIfMerge(Errors) AS errors,
  {q.ms('quantilesMerge(0.5, 0.95, 0.99)(DurationQ)[2]')} AS p95_ms
FROM ({rollups.states(rollups.DATABASE, w, where, use_rollups)})
GROUP BY source, target ORDER BY source, target"""
    ext = f"""
SELECT ServiceName AS source, Peer AS peer, 'external' AS kind,
  countMerge(Calls) AS calls, countIfMerge(Errors) AS errors,
  {q.ms('quantilesMerge(0.5, 0.95, 0.99)(DurationQ)[2]')} AS p95_ms
FROM ({rollups.states(rollups.EXTERNAL, w, where, use_rollups)})
GROUP BY source, peer ORDER BY source, peer"""
    return [services, db, ext]


def shape(results: list[list[dict]], p: Params) -> tuple[list[dict], dict[str, Any]]:
    service_edges, db_edges, ext_edges = results
    resolved = {(e["source"], peer) for e in service_edges for peer in e.pop("peers") if peer}
    edges = list(service_edges) + list(db_edges)
    for e in ext_edges:
        if (e["source"], e["peer"]) in resolved:
            continue
        e["target"] = "ext:" + (e.pop("peer") or "unknown")
        edges.append(e)
    for e in edges:
        e["error_rate"] = round(int(e["errors"]) / int(e["calls"]), 6) if int(e["calls"]) else 0.0
    nodes: dict[str, dict] = {}
    for e in edges:
        nodes.setdefault(e["source"], {"id": e["source"], "kind": "service"})
        kind = {"service": "service", "database": "database", "external": "external"}[e["kind"]]
        nodes.setdefault(e["target"], {"id": e["target"], "kind": kind})
    rows = [{k: e[k] for k in ("source", "target", "kind", "calls", "errors", "error_rate", "p95_ms")} for e in edges]
    return rows, {"nodes": sorted(nodes.values(), key=lambda n: n["id"]), "edges": rows}


VIEW = View(
    "service_map", "edges caller → callee (services, databases, external peers) with calls, errors, p95",
    EdgeRow, (SERVICE,), build, shape=shape, uses_rollups=True,
    examples=("stackeye query service_map --since 1h --format json",),
)
