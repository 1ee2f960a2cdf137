"""Routing weights: a slow server loses weight step by step to the floor and earns it back; the
dead band, min_requests, smoothing and max_step; decide() is pure."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from stackeye.decisions.model import RoutingState, ServerLoad
from stackeye.decisions.routing import POLICY, RoutingSettings
from stackeye.decisions.weights import set_stats, step, target

T0 = dt.datetime(2026, 12, 1, 9, 0, 0, tzinfo=dt.timezone.utc)
S = RoutingSettings()


def load(server, p95=100.0, requests=200, errors=0, slow=0, consecutive=0):
    return ServerLoad("pay", server, "instances", requests, errors, errors, slow, p95 * 0.6, p95, consecutive)


def run(steps, settings=S, state=None, every_s=5.0):
    """Evaluate each step's loads in turn; the decisions of every step, by server."""
    state = state or RoutingState()
    out = []
    for i, loads in enumerate(steps):
        decisions, state = POLICY.decide(tuple(loads), settings, state, T0 + dt.timedelta(seconds=every_s * i))
        out.append({d.server: d for d in decisions})
    return out, state


def test_a_slow_server_loses_weight_step_by_step_to_the_floor_and_recovers():
    slow = [[load("a"), load("b"), load("c"), load("d", p95=900)]] * 10
    fast = [[load("a"), load("b"), load("c"), load("d", p95=100)]] * 10
    out, _ = run(slow + fast)
    w = [step["d"].weight for step in out]
    down, up = w[:10], w[10:]
    assert down[:4] == [75, 50, 28, 16]  # max step 25, then halfway (alpha 0.5) to the floor 5
    assert all(a >= b for a, b in zip(down, down[1:])) and down[-1] == S.min_weight
    assert all(a <= b for a, b in zip(up, up[1:])) and up[-1] == S.max_weight
    assert all(up[i + 1] - up[i] <= S.max_step for i in range(len(up) - 1))
    assert {step[s].weight for step in out for s in "abc"} == {100}
    assert {step["d"].state for step in out} == {"active"}
    first = out[0]["d"]
    assert first.reason == "p95 900 ms is 9.0× the set's median 100 ms: weight 100 → 75 (max step 25)"
    assert first.detail["latency_ratio"] == 9.0 and first.detail["median_latency_ms"] == 100.0


@pytest.mark.parametrize("p95, current, wanted", [
    (100.0, 40.0, 100.0),   # at the median: back to the top
    (110.0, 40.0, 40.0),    # just above it, within the 25 % tolerance: held (the dead band)
    (150.0, 100.0, 100 * (1.25 / 1.5) ** 3),  # beyond: the ratio over the tolerance, inverse cubed
    (150.0, 30.0, 30.0),    # ... but a slower server never gains weight
    (2000.0, 100.0, 5.0),   # far slower: the floor
])
def test_latency_target(p95, current, wanted):
    loads = [load("a"), load("b"), load("c", p95=p95)]
    t = target(loads[2], set_stats(loads, S.min_requests), current, S)
    assert t.weight == pytest.approx(wanted)


@pytest.mark.parametrize("errors, wanted", [(0, 100.0), (20, 50.0), (40, 5.0), (100, 5.0)])
def test_failure_target_falls_linearly_to_the_floor_at_the_ejection_threshold(errors, wanted):
    loads = [load("a"), load("b"), load("c", errors=errors)]  # 200 calls each; threshold 20 %
    assert target(loads[2], set_stats(loads, S.min_requests), 100.0, S).weight == pytest.approx(wanted)


def test_the_mean_stands_in_for_a_missing_p95():
    loads = [dataclasses.replace(ld, p95_ms=None) for ld in (load("a"), load("b"), load("c", p95=500))]
    stats = set_stats(loads, S.min_requests)
    assert stats.median_latency_ms == pytest.approx(60.0)
    assert target(loads[2], stats, 100.0, S).latency_ratio == pytest.approx(5.0)


def test_a_server_with_too_few_calls_keeps_its_weight_and_is_left_out_of_the_median():
    out, state = run([[load("a"), load("b"), load("c", p95=900)]] * 2)
    assert out[-1]["c"].weight == 50
    out, _ = run([[load("a"), load("b"), load("c", p95=5000, requests=S.min_requests - 1)]], state=state)
    c = out[0]["c"]
    assert c.weight == 50 and "fewer than min_requests 20" in c.reason
    assert c.detail["median_latency_ms"] == 100.0  # the quiet server's 5 s p95 is not in the median


@pytest.mark.parametrize("previous, wanted, smoothing, max_step, expected", [
    (100.0, 0.0, 0.5, 25, 75.0),    # the step limit binds
    (100.0, 80.0, 0.5, 25, 90.0),   # smoothing binds
    (10.0, 100.0, 1.0, 25, 35.0),   # up, limited the same way
    (5.3, 5.0, 0.5, 25, 5.0),       # close enough: snaps to the target
    (50.0, 0.0, 1.0, 100, 5.0),     # never under min_weight
])
def test_step(previous, wanted, smoothing, max_step, expected):
    s = dataclasses.replace(S, smoothing=smoothing, max_step=max_step)
    assert step(previous, wanted, s) == pytest.approx(expected)


def test_decide_is_pure():
    loads = (load("a"), load("b", p95=700, errors=30), load("c", consecutive=6))
    _, state = run([loads] * 3)
    at = T0 + dt.timedelta(minutes=1)
    first = POLICY.decide(loads, S, state, at)
    again = POLICY.decide(loads, S, state, at)
    assert first == again
    assert POLICY.decide(loads, S, RoutingState(), at) == POLICY.decide(loads, S, RoutingState(), at)


def test_fast_servers_are_not_told_apart_below_the_latency_floor():
    fast = [[load("a", p95=0.4), load("b", p95=0.5), load("c", p95=3.0)]] * 6  # 7.5× the median, all under 5 ms
    out, _ = run(fast)
    assert {d.weight for d in out[-1].values()} == {S.max_weight}
    noisy, _ = run(fast, dataclasses.replace(S, latency_floor_ms=0.0))
    assert noisy[-1]["c"].weight < S.max_weight
