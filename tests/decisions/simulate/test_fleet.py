"""The traffic model: deterministic with a seed, the queueing numbers, start-up delay, failures, routing."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from stackeye.decisions.simulate import scenarios
from stackeye.decisions.simulate.fleet import FAILED, OK, TIMED_OUT, Fleet
from stackeye.decisions.simulate.router import route


def test_same_seed_same_traffic_other_seed_other_traffic():
    s = scenarios.get("spike")
    a, b, c = Fleet(s, seed=7).tick(0.0), Fleet(s, seed=7).tick(0.0), Fleet(s, seed=8).tick(0.0)
    assert np.array_equal(a.latency_ms, b.latency_ms) and np.array_equal(a.replica, b.replica)
    assert a.requests != c.requests or not np.array_equal(a.latency_ms, c.latency_ms)


def test_arrivals_do_not_depend_on_decisions():
    s = scenarios.get("spike")
    one, two = Fleet(s, seed=3), Fleet(s, seed=3)
    two.scale(10, 0.0)
    assert np.array_equal(one.tick(0.0).time, two.tick(0.0).time)


def test_utilization_is_cpu_and_sets_latency_as_mm_c():
    # 2 workers, 50 ms: 40 requests/s per replica; 60 requests/s on 3 replicas → ρ = 0.5.
    s = dataclasses.replace(scenarios.get("spike"), duration_s=3600, tick_s=600.0)
    tick = Fleet(s, seed=1).tick(0.0)
    assert tick.cpu == pytest.approx([0.5] * 3, abs=0.02)
    # M/M/2 at a = 1: mean response = S + P(wait)/(cμ − λ) = 50 ms + (1/3)/(40 − 20)/s ≈ 66.7 ms
    assert float(tick.latency_ms.mean()) == pytest.approx(50 + 1000 / 3 / 20, rel=0.03)
    assert (tick.status == OK).all()


def test_overload_builds_a_backlog_and_times_out():
    s = dataclasses.replace(scenarios.get("spike"), base_rps=400.0)  # ρ ≈ 3.3 on 3 replicas
    fleet = Fleet(s, seed=1)
    ticks = [fleet.tick(15.0 * i) for i in range(4)]
    assert ticks[0].cpu.min() == 1.0
    assert ticks[1].latency_ms.mean() > ticks[0].latency_ms.mean()
    assert np.count_nonzero(ticks[-1].status == TIMED_OUT) > 0
    assert ticks[-1].latency_ms.max() == s.replica.timeout_ms


def test_new_replicas_serve_after_the_startup_delay():
    s = scenarios.get("spike")
    fleet = Fleet(s, seed=1)
    fleet.scale(5, 0.0)
    first = fleet.tick(0.0)
    assert len(first.instances) == 5 and first.live.tolist() == [True] * 3 + [False] * 2
    assert set(first.replica.tolist()) == {0, 1, 2} and first.cpu[3:].tolist() == [0, 0]
    later = fleet.tick(s.replica.startup_s)
    assert later.live.all() and set(later.replica.tolist()) == set(range(5))
    fleet.scale(2, 60.0)
    assert [r.instance for r in fleet.replicas] == ["checkout-001", "checkout-002"]


def test_failing_instance_fails_half_after_onset_only():
    s = scenarios.get("failing-instance")
    fleet = Fleet(s, seed=1)
    before = fleet.tick(0.0)
    assert (before.status == OK).all()
    after = [fleet.tick(s.onset_s + i) for i in range(30)]
    bad = np.concatenate([t.status[t.replica == 0] for t in after])
    good = np.concatenate([t.status[t.replica != 0] for t in after])
    assert np.mean(bad == FAILED) == pytest.approx(0.5, abs=0.06)
    assert (good == OK).all()


def test_slow_instance_is_slower_by_its_factor():
    s = dataclasses.replace(scenarios.get("slow-instance"), tick_s=120.0)
    tick = Fleet(s, seed=1).tick(s.onset_s)
    bad, good = tick.latency_ms[tick.replica == 0], tick.latency_ms[tick.replica != 0]
    assert bad.mean() > s.slow_factor * good.mean() * 0.9


def test_router_follows_weights_per_proxy_and_skips_starting_replicas():
    inst = ("a", "b", "c")
    live = np.array([True, True, False])
    u = np.linspace(0, 1, 10000, endpoint=False)
    proxy = np.zeros(u.size, dtype=int)
    got = route(inst, live, proxy, u, {0: {"a": 3, "b": 1, "c": 100}})
    assert np.mean(got == 0) == pytest.approx(0.75, abs=0.01) and not np.any(got == 2)
    # all live weights zero: spread over the live ones (panic routing)
    got = route(inst, live, proxy, u, {None: {"a": 0, "b": 0}})
    assert np.mean(got == 0) == pytest.approx(0.5, abs=0.01)


def test_scenarios_load_curves():
    spike = scenarios.get("spike")
    up = spike.duration_s / 5
    assert spike.load(0) == 60 and spike.load(up + 30) == pytest.approx(180) and spike.load(up + 60) == 300
    day = scenarios.get("diurnal")
    assert day.load(4 * 3600) == pytest.approx(15) and day.load(16 * 3600) == pytest.approx(105)
    short = scenarios.get("failing-instance", duration_s=100)
    assert short.duration_s == 100 and short.onset_s == 20 and not math.isinf(short.onset_s)
    with pytest.raises(Exception, match="scenarios: diurnal, spike"):
        scenarios.get("nope")
