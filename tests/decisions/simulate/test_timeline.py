"""The simulation loop, its timeline scores and the simulator's aggregates as policy inputs."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import pytest

from stackeye.decisions.plot import draw
from stackeye.decisions.simulate import scenarios
from stackeye.decisions.simulate.aggregate import Window
from stackeye.decisions.simulate.controllers import Control
from stackeye.decisions.simulate.fleet import Fleet
from stackeye.decisions.simulate.report import decision_rows, series_of
from stackeye.decisions.simulate.run import simulate

AT = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


class Fixed:
    """A controller that always asks for the same thing (the loop's behaviour, not a policy's)."""

    name, interval_s = "fixed", 15.0

    def __init__(self, replicas=None, weights=None):
        self.replicas, self.weights, self.seen = replicas, weights, 0

    def observe(self, tick):
        self.seen += 1

    def decide(self, now):
        return Control(self.replicas, self.weights, note=f"ask {self.replicas}")


def test_the_loop_applies_replicas_after_the_startup_delay_and_scores_them():
    s = scenarios.get("spike", duration_s=300)
    timeline = simulate(s, Fixed(replicas=6), seed=1)
    rows = timeline.rows
    assert rows[0].replicas == 3 and rows[1].replicas == 6  # asked at 15 s
    assert rows[1].live == 3 and rows[1 + int(s.replica.startup_s // s.tick_s)].live == 6
    scores = timeline.scores()
    assert scores["replica_min"] == pytest.approx((3 * 15 + 6 * (300 - 15)) / 60, abs=0.1)
    assert scores["requests"] == sum(r.requests for r in rows)
    doc = json.loads(json.dumps(timeline.to_json()))
    assert doc["decisions"][0] == {"t": 15.0, "replicas": 6, "weights": None, "note": "ask 6"}
    assert len(decision_rows(timeline)) == len(rows)


def test_same_seed_same_timeline():
    s = scenarios.get("spike", duration_s=300)
    one, two = simulate(s, Fixed(replicas=4), seed=9), simulate(s, Fixed(replicas=4), seed=9)
    assert [dataclasses.astuple(r) for r in one.rows] == [dataclasses.astuple(r) for r in two.rows]


def test_drain_time_counts_from_the_onset_to_under_a_tenth_of_the_fair_share():
    s = scenarios.get("failing-instance", duration_s=100)  # onset at 20 s
    drained = simulate(s, Fixed(weights={None: {"checkout-001": 0.0}}), seed=1).scores()
    assert drained["drain_s"] == pytest.approx(1.0)  # weights apply from the next tick: the first after onset
    never = simulate(s, Fixed(), seed=1).scores()
    assert never["drain_s"] is None and never["failed"] > 0 and drained["failed"] == 0


def test_window_aggregates_are_the_policy_inputs():
    s = scenarios.get("failing-instance")
    fleet, window = Fleet(s, seed=2), Window(10.0)
    ticks = [fleet.tick(s.onset_s + i) for i in range(15)]
    for t in ticks:
        window.add(t)
    assert len(window.ticks) == 10  # the last 10 s only
    load = window.service_load("checkout", AT)
    kept = ticks[5:]
    assert load.requests == sum(t.requests for t in kept) and load.window_s == 10.0
    assert load.p95_ms == pytest.approx(np.percentile(np.concatenate([t.latency_ms for t in kept]), 95))
    bad = next(i for i in load.instances if i.instance == "checkout-001")
    assert bad.errors == pytest.approx(bad.requests / 2, rel=0.25)
    assert bad.cpu_pct == pytest.approx(100 * np.mean([t.cpu[0] for t in kept]))
    servers = {r.server: r for r in window.server_loads("checkout", slow_call_ms=250)}
    assert servers["checkout-001"].status_5xx == bad.errors and servers["checkout-002"].errors == 0
    assert servers["checkout-001"].callers == 3
    assert servers["checkout-002"].consecutive_5xx == 0


def test_plot_writes_a_png(tmp_path):
    s = scenarios.get("slow-instance", duration_s=60)
    path = draw(series_of(simulate(s, Fixed(), seed=1)), str(tmp_path / "out.png"))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
