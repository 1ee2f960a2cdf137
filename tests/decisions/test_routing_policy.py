"""The routing policy as the evaluator and the policy file see it: registered, its settings those
the sources and the simulator read, cross-field checks, its state round-trips through the codec."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from stackeye.core.config import ConfigError
from stackeye.core.config import settings as specs
from stackeye.decisions import codec, policy_file, registry
from stackeye.decisions.model import RoutingDecision, RoutingState, ServerLoad
from stackeye.decisions.routing import POLICY, RoutingSettings
from support.fake_policies import RoutingSettings as FakeSettings

T0 = dt.datetime(2026, 12, 1, 9, 0, 0, tzinfo=dt.timezone.utc)


def load(server, requests=200, errors=0, consecutive=0, p95=100.0, slow=0):
    return ServerLoad("pay", server, "instances", requests, errors, errors, slow, p95 * 0.6, p95, consecutive)


def test_registered_with_the_settings_the_sources_and_the_simulator_read():
    assert registry.get("routing") is POLICY and POLICY.key_noun == "upstream"
    ours = {s.name: s for s in specs(RoutingSettings)}
    for fake in specs(FakeSettings):
        mine = ours[fake.name]
        assert type(mine.default()) is type(fake.default()) and mine.unit == fake.unit, fake.name
        assert mine.options.choices == fake.options.choices
    s = RoutingSettings()
    assert (s.source, s.service, s.window, s.max_weight) == ("instances", "", 30.0, 100)


@pytest.mark.parametrize("table, field", [
    ({"min_weight": 101}, "min_weight"),
    ({"max_ejection_time": "10s"}, "max_ejection_time"),
    ({"window": "1m"}, "base_ejection_time"),
    ({"breaker_open_time": "10s"}, "breaker_open_time"),
])
def test_validate_names_the_field_and_the_fix(table, field):
    with pytest.raises(ConfigError) as err:
        policy_file.from_mapping_doc({"routing": {"pay": table}})
    assert f"routing.pay.{field}" in str(err.value)


def test_a_policy_file_table_reads_units_and_passes_validation():
    pf = policy_file.from_mapping_doc({"routing": {"pay": {"window": "1m", "base_ejection_time": "1m",
                                                           "breaker_open_time": "90s", "source": "peers"}}})
    s = pf.settings("routing", "pay")
    assert (s.window, s.base_ejection_time, s.breaker_open_time, s.source) == (60.0, 60.0, 90.0, "peers")
    assert POLICY.validate(s) == []


def test_state_and_decisions_round_trip_through_the_codec():
    state = RoutingState()
    steps = [(load("a"), load("b", p95=900), load("c", errors=100)),
             (load("a"), load("b", p95=900), load("d", errors=30, slow=30, requests=40))]
    for i, loads in enumerate(steps):
        decisions, state = POLICY.decide(loads, RoutingSettings(), state, T0 + dt.timedelta(seconds=5 * i))
    assert {st.breaker for st in state.servers.values()} >= {"open"} and state.servers["c"].ejected_until > 0
    back = codec.decode(RoutingState, codec.encode(state))
    assert back == state
    for d in decisions:
        assert codec.decode(RoutingDecision, codec.encode(d)) == d
    # the decoded state decides the same as the original
    again = POLICY.decide(steps[1], RoutingSettings(), back, T0 + dt.timedelta(seconds=10))
    assert again == POLICY.decide(steps[1], RoutingSettings(), state, T0 + dt.timedelta(seconds=10))


def test_a_state_stored_before_the_new_fields_still_loads():
    old = {"servers": {"a": {"weight": 40, "ejected_until": 0, "times_ejected": 1, "breaker": "closed",
                             "breaker_since": 0, "drained": False}}}
    st = codec.decode(RoutingState, old).servers["a"]
    assert (st.weight, st.times_ejected, st.slow_start, st.cause) == (40.0, 1, False, "")


def test_one_decision_per_server_and_weights_in_bounds():
    loads = tuple(load(f"s{i}", p95=100 * (i + 1), errors=i * 10) for i in range(6))
    s = dataclasses.replace(RoutingSettings(), max_weight=1000, min_weight=50, max_step=300)
    state = RoutingState()
    for i in range(5):
        decisions, state = POLICY.decide(loads, s, state, T0 + dt.timedelta(seconds=5 * i))
        assert sorted(d.server for d in decisions) == [ld.server for ld in loads]
        for d in decisions:
            assert isinstance(d.weight, int) and (d.weight == 0 or s.min_weight <= d.weight <= s.max_weight)
            assert (d.weight == 0) == (d.state != "active") and d.reason and d.at == decisions[0].at


def test_no_loads_no_decisions_and_healthy_absent_servers_are_forgotten():
    _, state = POLICY.decide((load("a"), load("b")), RoutingSettings(), RoutingState(), T0)
    decisions, state = POLICY.decide((load("a"),), RoutingSettings(), state, T0 + dt.timedelta(seconds=5))
    assert [d.server for d in decisions] == ["a"] and list(state.servers) == ["a"]
    assert POLICY.decide((), RoutingSettings(), state, T0) == ([], RoutingState())
