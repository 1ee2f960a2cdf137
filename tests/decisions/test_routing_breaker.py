"""The circuit breaker (Sentinel's semantics) through the policy: every transition on the right probes."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from stackeye.decisions import breaker
from stackeye.decisions.model import RoutingState, ServerLoad
from stackeye.decisions.routing import POLICY, RoutingSettings

T0 = dt.datetime(2026, 12, 1, 9, 0, 0, tzinfo=dt.timezone.utc)
# the breaker alone: no ejection, the weights' failure factor off
S = RoutingSettings(consecutive_5xx=0, failure_percentage_threshold=0.0, success_rate_min_hosts=100,
                    slow_call_ms=250.0)


def load(server, requests=40, errors=0, slow=0):
    return ServerLoad("pay", server, "instances", requests, errors, errors, slow, 60.0, 100.0)


def decide(loads, state, t, settings=S):
    decisions, state = POLICY.decide(tuple(loads), settings, state, T0 + dt.timedelta(seconds=t))
    return {d.server: d for d in decisions}, state


PEERS = [load("a"), load("b")]


@pytest.mark.parametrize("settings, bad, why", [
    (S, load("x", slow=21), "52 % of 40 calls slower than 250 ms (threshold 50 %): breaker open for 30 s"),
    (S, load("x", errors=21), "52 % of 40 calls failed (threshold 50 %): breaker open for 30 s"),
    (dataclasses.replace(S, error_ratio=0.0, error_count=10), load("x", errors=11),
     "11 of 40 calls failed (threshold 10): breaker open for 30 s"),
    (S, load("x", requests=3, errors=3, slow=0), None),          # under breaker_min_requests: never opens
    (S, load("x", slow=20), None),                                # exactly the ratio: Sentinel opens above it
    (dataclasses.replace(S, slow_call_ratio=0.0, error_ratio=0.0), load("x", errors=40, slow=40), None),  # off
])
def test_closed_to_open(settings, bad, why):
    d, state = decide([*PEERS, bad], RoutingState(), 0, settings)
    x = d["x"]
    if why is None:
        assert (x.state, x.breaker) == ("active", "closed")
        return
    assert (x.state, x.breaker, x.weight, x.reason) == ("ejected", "open", 0, why)
    assert x.detail["breaker_open_until"] == "2026-12-01T09:00:30Z"
    assert state.servers["x"].breaker_since == T0.timestamp()


def _opened():
    _, state = decide([*PEERS, load("x", errors=30)], RoutingState(), 0)
    return state


def test_open_until_its_time_then_half_open_at_the_probe_weight():
    state = _opened()
    d, state = decide(PEERS, state, 25)  # no calls while open: it left the window, still reported
    assert (d["x"].state, d["x"].breaker, d["x"].weight) == ("ejected", "open", 0)
    assert d["x"].reason.startswith("breaker open until 09:00:30Z (75 % of 40 calls failed")
    d, state = decide(PEERS, state, 30)
    assert (d["x"].state, d["x"].breaker, d["x"].weight) == ("active", "half_open", S.min_weight)
    assert d["x"].reason == f"breaker half-open after 30 s open: probing at weight {S.min_weight}"
    d, state = decide(PEERS, state, 35)  # no probe calls yet: still half-open
    assert (d["x"].breaker, d["x"].weight) == ("half_open", S.min_weight)


@pytest.mark.parametrize("probe, breaker_after, weight", [
    (load("x", requests=6), "closed", S.min_weight + S.max_step),   # a good probe: closed, slow start
    (load("x", requests=6, errors=4), "open", 0),                    # a bad one: open again
    (load("x", requests=6, slow=4), "open", 0),
    (load("x", requests=2, errors=2), "open", 0),                    # a probe needs no min_requests
])
def test_half_open_probe(probe, breaker_after, weight):
    _, state = decide(PEERS, _opened(), 30)
    d, state = decide([*PEERS, probe], state, 35)
    assert (d["x"].breaker, d["x"].weight) == (breaker_after, weight), d["x"].reason
    if breaker_after == "open":
        assert d["x"].reason.startswith("probe failed (") and "breaker open again for 30 s" in d["x"].reason
        assert state.servers["x"].breaker_since == (T0 + dt.timedelta(seconds=35)).timestamp()
        d, state = decide(PEERS, state, 65)
        assert d["x"].breaker == "half_open"
    else:
        assert d["x"].reason.startswith("probe of 6 calls passed: breaker closed")


def test_evaluate_is_a_pure_state_machine():
    s = S
    assert breaker.evaluate("closed", 0.0, load("x"), s, 100.0) == breaker.Verdict("closed", 0.0, "", {
        "requests": 40, "slow_ratio": 0.0, "error_ratio": 0.0, "errors": 0})
    v = breaker.evaluate("open", 100.0, None, s, 129.0)
    assert (v.breaker, v.since) == ("open", 100.0)
    assert breaker.evaluate("open", 100.0, None, s, 130.0).breaker == "half_open"
