"""decisions.store: decisions and states round-trip through stackeye_decisions; state_at is "as of"."""
from __future__ import annotations

import datetime as dt

from stackeye.decisions.model import (
    AutoscaleDecision,
    AutoscaleState,
    Recommendation,
    RoutingState,
    ServerState,
)
from stackeye.decisions.store import DecisionStore, Evaluation, Outcome
from support import recent

T = recent.at(8, 0, 0)


def _decision(at, desired, current=3):
    return AutoscaleDecision("checkout", at, current, desired, "cpu", f"cpu asks for {desired}",
                             (Recommendation("cpu", 90.0, 60.0, desired),), {"scale_down_window_s": 300})


def _evaluation(at, desired):
    state = AutoscaleState(recommendations=((at.timestamp(), desired),), last_desired=desired)
    return Evaluation("autoscale", "checkout", at, state,
                      (Outcome("checkout", _decision(at, desired), desired != 3, f"cpu asks for {desired}"),))


def test_state_at_is_the_latest_at_or_before(chdb_storage):
    store = DecisionStore(chdb_storage())
    store.record([_evaluation(T, 5), _evaluation(T + dt.timedelta(seconds=15), 4)])
    assert store.state_at("autoscale", "checkout", T - dt.timedelta(seconds=1), AutoscaleState) is None
    assert store.state_at("autoscale", "checkout", T, AutoscaleState).last_desired == 5
    assert store.state_at("autoscale", "checkout", T + dt.timedelta(seconds=14), AutoscaleState).last_desired == 5
    later = store.state_at("autoscale", "checkout", T + dt.timedelta(hours=1), AutoscaleState)
    assert later == AutoscaleState(recommendations=(((T + dt.timedelta(seconds=15)).timestamp(), 4),), last_desired=4)


def test_states_of_many_keys_in_one_read(chdb_storage):
    store = DecisionStore(chdb_storage())
    routing = RoutingState({"10.0.0.1:80": ServerState(weight=40.0, times_ejected=2, breaker="open")})
    store.record([Evaluation("routing", "a", T, routing, ()), Evaluation("routing", "b", T, RoutingState(), ())])
    states = store.states_at("routing", ["a", "b", "c"], T, RoutingState)
    assert states == {"a": routing, "b": RoutingState()}
    assert isinstance(states["a"].servers["10.0.0.1:80"], ServerState)


def test_history_newest_first_with_the_decision_as_json(chdb_storage):
    store = DecisionStore(chdb_storage())
    store.record([_evaluation(T, 5), _evaluation(T + dt.timedelta(seconds=15), 3)])
    rows = store.history("autoscale", "checkout")
    assert [r["time"] for r in rows] == [recent.iso(T + dt.timedelta(seconds=15)), recent.iso(T)]
    assert rows[1]["decision"]["desired_replicas"] == 5 and rows[1]["changed"] is True
    assert rows[1]["decision"]["recommendations"][0]["target"] == "cpu"
    assert [r["time"] for r in store.history("autoscale", changed_only=True)] == [recent.iso(T)]
    assert store.history("autoscale", since=T + dt.timedelta(seconds=1))[0]["decision"]["desired_replicas"] == 3
    assert store.history("routing") == []


def test_last_decisions_per_subject_before_an_instant(chdb_storage):
    store = DecisionStore(chdb_storage())
    store.record([_evaluation(T, 5), _evaluation(T + dt.timedelta(seconds=15), 4)])
    assert store.last_decisions("autoscale", "checkout", T + dt.timedelta(seconds=15))["checkout"]["desired_replicas"] == 5
    assert store.last_decisions("autoscale", "checkout", T) == {}


def test_a_state_that_no_longer_decodes_starts_over(chdb_storage, caplog):
    storage = chdb_storage()
    storage.query("INSERT INTO stackeye_decisions (Kind, Key, Subject, Time, State) VALUES "
                  f"('routing', 'x', '', '{T:%Y-%m-%d %H:%M:%S}', '{{\"servers\": [1, 2]}}')", readonly=False)
    assert DecisionStore(storage).state_at("routing", "x", T, RoutingState) is None
    assert "does not load" in caplog.text
