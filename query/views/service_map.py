"""service_map: who calls whom — edges caller → callee with calls, errors and p95 (as seen by the
caller), as JSON nodes/edges.

- service → service: a CLIENT/PRODUCER span whose callee — the peer ``host:port``, or
  ``queue:<name>`` for a producer — is the address a SERVER span of another service answers as
  (its ``server.address:server.port``), or the queue a CONSUMER span reads. From the ``external`` and
  ``owners`` rollups. ``method=join`` instead joins child entry spans to their parent spans across
  services (exact by construction, and slow over long ranges); on consistently instrumented
  services both give the same edges (tests/query checks it).
- service → external peer (node ``ext:<host:port>``): outbound calls no service answers for;
- service → database (node ``db:<db.system>``): from the ``db`` rollup.

Rows are the edges; the JSON answer adds ``nodes`` and ``edges``."""
from __future__ import annotations

import dataclasses
from typing import Any

from stackeye.query.views import common, rollups
from stackeye.query.views import sql as q
from stackeye.query.views.base import View
from stackeye.query.views.params import SERVICE, Param, Params


@dataclasses.dataclass(frozen=True)
class EdgeRow:
    source: str
    target: str
    kind: str  # service | database | external
    calls: int
    errors: int
    error_rate: float
    p95_ms: float


METHOD = Param("method", "choice", "rollup", "how service edges are found: rollup (fast) or join (parent/child spans)",
               choices=("rollup", "join"))
_EDGE_COLS = (f"countMerge(Calls) AS calls, countIfMerge(Errors) AS errors, {q.frac('errors', 'calls')} AS error_rate, "
              f"{q.ms('quantilesMerge(0.5, 0.95, 0.99)(DurationQ)[2]')} AS p95_ms")


def _rollup_edges(p: Params, use_rollups: bool) -> str:
    w, svc = p.window, p["service"]
    owners = f"""
    SELECT Callee, argMax(ServiceName, n) AS owner FROM (
      SELECT Callee, ServiceName, countMerge(Calls) AS n
      FROM ({rollups.states(rollups.OWNERS, w, '', use_rollups)}) GROUP BY Callee, ServiceName)
    GROUP BY Callee"""
    target = "if(o.owner != '', o.owner, concat('ext:', if(e.Callee = '', 'unknown', e.Callee)))"
    match = f"AND (source = {q.lit(svc)} OR target = {q.lit(svc)})" if svc else ""
    return f"""
SELECT e.ServiceName AS source, {target} AS target, if(o.owner != '', 'service', 'external') AS kind, {_EDGE_COLS}
FROM ({rollups.states(rollups.EXTERNAL, w, '', use_rollups)}) AS e
LEFT JOIN ({owners}) AS o ON o.Callee = e.Callee
WHERE o.owner != e.ServiceName {match}
GROUP BY source, target, kind
ORDER BY source, target"""


def _join_edges(p: Params) -> str:
    w, svc = p.window, p["service"]
    both = f"AND (parent.ServiceName = {q.lit(svc)} OR child.ServiceName = {q.lit(svc)})" if svc else ""
    return f"""
SELECT parent.ServiceName AS source, child.ServiceName AS target, 'service' AS kind, count() AS calls,
  countIf(parent.StatusCode IN ('Error', 'STATUS_CODE_ERROR')) AS errors, {q.frac('errors', 'calls')} AS error_rate,
  {q.ms('quantile(0.95)(parent.Duration)')} AS p95_ms
FROM (
  SELECT TraceId, SpanId, ServiceName, StatusCode, Duration FROM otel_traces
  WHERE {q.in_window('Timestamp', w)} AND ({q.OUTBOUND_KIND})
) AS parent
INNER JOIN (
  SELECT TraceId, ParentSpanId, ServiceName FROM otel_traces
  WHERE {q.in_window('Timestamp', w)} AND ({q.ENTRY_KIND}) AND ParentSpanId != ''
) AS child ON child.TraceId = parent.TraceId AND child.ParentSpanId = parent.SpanId
WHERE parent.ServiceName != child.ServiceName {both}
GROUP BY source, target
ORDER BY source, target"""


def build(p: Params, use_rollups: bool) -> list[str]:
    where = common.eq("ServiceName", p["service"])
    db = f"""
SELECT ServiceName AS source, concat('db:', DbSystem) AS target, 'database' AS kind, {_EDGE_COLS}
FROM ({rollups.states(rollups.DATABASE, p.window, where, use_rollups)})
GROUP BY source, target ORDER BY source, target"""
    return [_rollup_edges(p, use_rollups), db] + ([_join_edges(p)] if p["method"] == "join" else [])


def shape(results: list[list[dict]], p: Params) -> tuple[list[dict], dict[str, Any]]:
    edges, db = results[0], results[1]
    if p["method"] == "join":  # service edges from the join; the rest from the rollups
        edges = results[2] + [e for e in edges if e["kind"] != "service"]
    edges = sorted(edges, key=lambda e: (e["kind"] != "service", e["source"], e["target"])) + db
    nodes: dict[str, dict] = {}
    for e in edges:
        nodes.setdefault(e["source"], {"id": e["source"], "kind": "service"})
        nodes.setdefault(e["target"], {"id": e["target"], "kind": e["kind"]})
    rows = [{k: e[k] for k in ("source", "target", "kind", "calls", "errors", "error_rate", "p95_ms")} for e in edges]
    return rows, {"nodes": sorted(nodes.values(), key=lambda n: n["id"]), "edges": rows}


VIEW = View(
    "service_map", "edges caller → callee (services, databases, external peers) with calls, errors, p95",
    EdgeRow, (SERVICE, METHOD), build, shape=shape, uses_rollups=True,
    examples=("stackeye query service_map --since 1h --format json",),
)
