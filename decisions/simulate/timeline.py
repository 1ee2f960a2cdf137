"""A simulation's timeline (one row per tick) and the scores the bench compares.

Scores: SLO-violation minutes (ticks whose p95 is over the scenario's SLO), replica-minutes (every
provisioned replica, starting ones included: they cost the same), failed requests, and the time to
drain the bad instance (from its onset to the first tick where it gets under a tenth of its fair
share of the requests, over every proxy).
"""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np

from stackeye.decisions.simulate.fleet import Tick
from stackeye.decisions.simulate.scenarios import Scenario

DRAINED_SHARE = 0.1  # of the fair share 1/N


@dataclasses.dataclass
class Row:
    t: float  # end of the tick, seconds since the start
    load_rps: float
    requests: int
    failed: int
    replicas: int  # provisioned
    live: int
    p95_ms: float | None
    slo_ok: bool
    bad_share: float | None  # routing: share of the tick's requests the bad instance got
    note: str = ""  # the decision taken at the end of this tick, if any


@dataclasses.dataclass
class Timeline:
    scenario: Scenario
    controller: str
    rows: list[Row] = dataclasses.field(default_factory=list)
    decisions: list[tuple[float, object]] = dataclasses.field(default_factory=list)  # (t, Control)

    def add(self, tick: Tick, bad_instance: str | None) -> Row:
        p95 = tick.p95_ms()
        share = None
        if self.scenario.kind == "routing" and bad_instance in tick.instances and tick.requests:
            share = float(np.count_nonzero(tick.replica == tick.instances.index(bad_instance))) / tick.requests
        row = Row(round(tick.t0 + tick.dt, 3), round(tick.load_rps, 2), tick.requests, tick.failed,
                  len(tick.instances), int(tick.live.sum()), None if p95 is None else round(p95, 1),
                  p95 is None or p95 <= self.scenario.slo_p95_ms, share)
        self.rows.append(row)
        return row

    def scores(self) -> dict:
        s = self.scenario
        dt = s.tick_s
        requests = sum(r.requests for r in self.rows)
        failed = sum(r.failed for r in self.rows)
        out = {
            "scenario": s.name, "controller": self.controller,
            "slo_violation_min": round(sum(dt for r in self.rows if not r.slo_ok) / 60, 2),
            "replica_min": round(sum(r.replicas * dt for r in self.rows) / 60, 1),
            "requests": requests, "failed": failed,
            "failed_pct": round(100 * failed / requests, 3) if requests else 0.0,
        }
        if s.kind == "routing":
            fair = 1 / s.replicas
            drained = next((r.t for r in self.rows if r.t > s.onset_s and r.bad_share is not None
                            and r.bad_share < DRAINED_SHARE * fair), None)
            out["drain_s"] = None if drained is None else round(drained - s.onset_s, 1)
        return out

    def to_json(self) -> dict:
        return {"scenario": dataclasses.asdict(self.scenario) | {"onset_s": _finite(self.scenario.onset_s)},
                "controller": self.controller, "scores": self.scores(),
                "decisions": [{"t": t, "replicas": c.replicas, "weights": _weights(c.weights), "note": c.note}
                              for t, c in self.decisions],
                "rows": [dataclasses.asdict(r) for r in self.rows]}

    def save(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump(self.to_json(), f, indent=1)


def _weights(weights: dict | None):
    return None if weights is None else {"all" if p is None else str(p): w for p, w in weights.items()}


def _finite(x: float):
    return None if math.isinf(x) else x
