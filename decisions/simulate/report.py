"""A simulation timeline for people: the printed table (one row per decision) and the plot's series."""
from __future__ import annotations

from stackeye.decisions.plot import Series
from stackeye.decisions.simulate.timeline import Timeline

COLUMNS = ["t_s", "load_rps", "requests", "failed", "replicas", "live", "p95_ms", "slo_ok", "decision"]
ROUTING_COLUMNS = COLUMNS[:6] + ["bad_share"] + COLUMNS[6:]
MAX_PRINTED = 120  # long runs print every n-th decision, and every one that changed something


def decision_rows(timeline: Timeline) -> list[list]:
    routing = timeline.scenario.kind == "routing"
    rows = [r for r in timeline.rows if r.note]
    every = max(1, len(rows) // MAX_PRINTED)
    out, last = [], None
    for i, r in enumerate(rows):
        changed = (r.replicas, r.note) != last
        last = (r.replicas, r.note)
        if i % every and not changed:
            continue
        row = [r.t, r.load_rps, r.requests, r.failed, r.replicas, r.live, r.p95_ms, r.slo_ok, r.note]
        if routing:
            row.insert(6, None if r.bad_share is None else round(r.bad_share, 3))
        out.append(row)
    return out


def columns(timeline: Timeline) -> list[str]:
    return ROUTING_COLUMNS if timeline.scenario.kind == "routing" else COLUMNS


def series_of(timeline: Timeline) -> Series:
    s = timeline.scenario
    rows = timeline.rows
    return Series(f"{s.name}: {timeline.controller} (SLO p95 ≤ {s.slo_p95_ms:g} ms)", [r.t for r in rows],
                  [r.load_rps for r in rows], [r.replicas for r in rows], [r.p95_ms for r in rows], s.slo_p95_ms,
                  [r.bad_share for r in rows] if s.kind == "routing" else None)
