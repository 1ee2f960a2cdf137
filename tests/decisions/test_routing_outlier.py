"""Outlier ejection (Envoy's semantics, pooled): consecutive 5xx and failure percentage eject, the
server returns when its time is up, the time doubles and caps, the max-ejection-percent cap, the
success-rate rule's host and volume minimums, the multiplier's decay."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from stackeye.decisions import outlier
from stackeye.decisions.model import RoutingState, ServerLoad, ServerState
from stackeye.decisions.routing import POLICY, RoutingSettings

T0 = dt.datetime(2026, 12, 1, 9, 0, 0, tzinfo=dt.timezone.utc)
S = RoutingSettings()


def load(server, requests=200, errors=0, consecutive=0, p95=100.0):
    return ServerLoad("pay", server, "instances", requests, errors, errors, 0, p95 * 0.6, p95, consecutive)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def healthy(n=4):
    return [load(f"ok{i}") for i in range(n)]


@pytest.mark.parametrize("bad, rule, why", [
    (load("bad", errors=5, consecutive=5), "consecutive_5xx", "5 consecutive 5xx: ejected for 30 s (1st time)"),
    (load("bad", errors=100), "failure_percentage",
     "50.0 % of 200 calls failed (threshold 20 %): ejected for 30 s (1st time)"),
])
def test_a_failing_server_is_ejected_and_comes_back_when_its_time_is_up(bad, rule, why):
    decisions, state = POLICY.decide((*healthy(), bad), S, RoutingState(), at(0))
    d = {x.server: x for x in decisions}["bad"]
    assert (d.state, d.weight, d.reason, d.detail["rule"]) == ("ejected", 0, why, rule)
    assert d.detail["ejected_until"] == "2026-12-01T09:00:30Z" and d.detail["times_ejected"] == 1
    # out for 30 s: it gets no calls and drops out of the window, but the gateways still hear of it
    for t in (5, 25):
        decisions, state = POLICY.decide(tuple(healthy()), S, state, at(t))
        d = {x.server: x for x in decisions}["bad"]
        assert (d.state, d.weight) == ("ejected", 0) and d.reason.startswith("ejected until 09:00:30Z")
    decisions, state = POLICY.decide(tuple(healthy()), S, state, at(30))
    d = {x.server: x for x in decisions}["bad"]
    assert (d.state, d.weight) == ("active", S.min_weight) and d.reason.startswith("back after its 1st ejection")
    # slow start: it climbs by max_step while it has too few calls to be judged
    decisions, state = POLICY.decide((*healthy(), load("bad", requests=3)), S, state, at(35))
    assert {x.server: x for x in decisions}["bad"].weight == S.min_weight + S.max_step


def _eject_again(state, t):
    decisions, state = POLICY.decide((*healthy(), load("bad", errors=6, consecutive=6)), S, state, at(t))
    return {x.server: x for x in decisions}["bad"], state


def test_ejection_time_grows_with_each_ejection_and_caps_at_max_ejection_time():
    state, t, lengths = RoutingState(), 0.0, []
    for _ in range(12):
        d, state = _eject_again(state, t)
        assert d.state == "ejected"
        until = dt.datetime.fromisoformat(d.detail["ejected_until"].replace("Z", "+00:00"))
        lengths.append((until - at(t)).total_seconds())
        t = (until - T0).total_seconds()  # back at once, and failing again at the same evaluation
    assert lengths[:3] == [30, 60, 90]
    assert max(lengths) == 300 and lengths[-1] == 300
    assert "ejected for 300 s (12th time)" in d.reason


def test_the_multiplier_decays_by_one_per_healthy_interval():
    d, state = _eject_again(RoutingState(), 0)
    d, state = _eject_again(state, 30)  # back at 30 s, out again: 2nd time
    assert d.detail["times_ejected"] == 2
    _, state = POLICY.decide(tuple(healthy()), S, state, at(90))  # back at 90 s
    for t, times in ((95, 2), (100, 1), (105, 1), (110, 0)):
        _, state = POLICY.decide((*healthy(), load("bad")), S, state, at(t))
        assert state.servers["bad"].times_ejected == times, t
    d, _ = _eject_again(state, 115)
    assert "ejected for 30 s (1st time)" in d.reason


@pytest.mark.parametrize("servers, failing, ejected", [
    (5, 3, 1),    # 10 % of 5 is under one: still one
    (10, 3, 1),   # 10 % of 10: one
    (20, 3, 2),   # 10 % of 20: two
    (40, 6, 4),
])
def test_max_ejection_percent_but_at_least_one(servers, failing, ejected):
    loads = [load(f"s{i:02}", errors=60 + i if i < failing else 0) for i in range(servers)]  # under the breaker's 50 %
    decisions, _ = POLICY.decide(tuple(loads), S, RoutingState(), at(0))
    out = sorted(d.server for d in decisions if d.state == "ejected")
    assert len(out) == ejected
    assert out == [f"s{i:02}" for i in range(failing - 1, failing - 1 - ejected, -1)][::-1]  # the worst first
    kept = [d for d in decisions if d.server == "s00" and d.state == "active"]
    assert kept and "max_ejection_percent 10 %" in kept[0].reason


def test_servers_out_already_count_against_the_cap():
    _, state = POLICY.decide((*healthy(), load("bad", errors=80)), S, RoutingState(), at(0))
    decisions, _ = POLICY.decide((*healthy(), load("worse", errors=90)), S, state, at(5))
    d = {x.server: x for x in decisions}
    assert d["bad"].state == "ejected" and d["worse"].state == "active"
    assert "1 of 6 servers are out already" in d["worse"].reason


SR = dataclasses.replace(S, failure_percentage_threshold=0.0, consecutive_5xx=0)  # the success-rate rule alone


@pytest.mark.parametrize("hosts, requests, ejected", [
    (5, 100, True),    # 5 hosts of 100 calls: the rule applies
    (4, 100, False),   # fewer than success_rate_min_hosts
    (5, 99, False),    # under success_rate_request_volume
    (8, 1000, True),
])
def test_success_rate_rule_needs_enough_hosts_with_enough_calls(hosts, requests, ejected):
    loads = [load(f"ok{i}", requests=requests, errors=0) for i in range(hosts - 1)]
    loads.append(load("bad", requests=requests, errors=requests // 2))
    decisions, _ = POLICY.decide(tuple(loads), SR, RoutingState(), at(0))
    d = {x.server: x for x in decisions}["bad"]
    assert (d.state == "ejected") is ejected
    if ejected:
        assert d.detail["rule"] == "success_rate" and d.reason.startswith("success rate 50.0 % is below the set's")


def test_the_success_rate_threshold_is_mean_minus_factor_stdev():
    rates = [0.99, 0.98, 0.99, 0.97, 0.90]
    loads = [load(f"h{i}", requests=1000, errors=round(1000 * (1 - r))) for i, r in enumerate(rates)]
    found = outlier.detect(loads, SR)
    mean = sum(rates) / 5
    sd = (sum((r - mean) ** 2 for r in rates) / 5) ** 0.5
    assert list(found) == ["h4"] and found["h4"].detail["threshold"] == pytest.approx(mean - 1.9 * sd, abs=1e-6)


def test_a_failure_percentage_under_the_volume_does_not_eject():
    no_breaker = dataclasses.replace(S, error_ratio=0.0)
    decisions, _ = POLICY.decide((*healthy(), load("bad", requests=49, errors=40)), no_breaker, RoutingState(), at(0))
    assert {x.server: x for x in decisions}["bad"].state == "active"


def test_the_ejection_cap_does_not_hold_back_a_breaker():
    loads = [load(f"s{i}", errors=150 if i < 2 else 0) for i in range(5)]  # 75 % failed: both trip the breaker
    decisions, _ = POLICY.decide(tuple(loads), S, RoutingState(), at(0))
    d = {x.server: x for x in decisions}
    assert (d["s0"].state, d["s0"].breaker) == ("ejected", "closed")  # the one ejection the cap allows
    assert (d["s1"].state, d["s1"].breaker, d["s1"].weight) == ("ejected", "open", 0)
    assert "max_ejection_percent" in d["s1"].reason and "breaker open for 30 s" in d["s1"].reason


def test_an_ejected_server_is_forgotten_once_back_and_decayed():
    _, state = POLICY.decide((*healthy(), load("bad", errors=100)), S, RoutingState(), at(0))
    _, state = POLICY.decide(tuple(healthy()), S, state, at(30))
    assert "bad" in state.servers
    decisions, state = POLICY.decide(tuple(healthy()), S, state, at(45))
    assert "bad" not in state.servers and "bad" not in {d.server for d in decisions}


def test_drained_servers_stay_drained():
    state = RoutingState({"ok0": ServerState(weight=80.0, drained=True)})
    decisions, state = POLICY.decide((load("ok0", errors=200, consecutive=9), *healthy()[1:]), S, state, at(0))
    d = {x.server: x for x in decisions}["ok0"]
    assert (d.state, d.weight, d.reason) == ("drained", 0, "drained by an operator: weight 0")
    assert state.servers["ok0"] == ServerState(weight=80.0, drained=True)
