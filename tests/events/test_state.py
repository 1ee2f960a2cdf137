"""events.state: pending → firing → resolved per label set, one event per transition, pure."""
from __future__ import annotations

import datetime as dt

from stackeye.core.config import from_mapping
from stackeye.events.condition import Observation
from stackeye.events.rules import TriggerRule
from stackeye.events.state import ERROR_LABELS, step, step_failed

T0 = dt.datetime(2030, 1, 1, 10, 0, tzinfo=dt.timezone.utc)


def rule(**fields) -> TriggerRule:
    return from_mapping(TriggerRule, {"name": "r", "sql": "SELECT 1 AS value", "threshold": 10, **fields})


def run(r, rounds):
    """rounds: [(seconds after T0, {label: value})] → the states of the events of each round."""
    active, out = {}, []
    for s, values in rounds:
        obs = [Observation({"service": k}, v) for k, v in values.items()]
        active, events = step(r, active, obs, T0 + dt.timedelta(seconds=s))
        out.append([(e.labels["service"], e.state) for e in events])
    return out


def test_pending_for_then_firing_once_then_resolved():
    r = rule(for_=60)
    assert run(r, [(0, {"a": 11}), (30, {"a": 12}), (60, {"a": 13}), (90, {"a": 20}), (120, {"a": 15}),
                   (150, {"a": 5}), (180, {"a": 5})]) == [
        [("a", "pending")], [], [("a", "firing")], [], [], [("a", "resolved")], []]


def test_without_for_it_fires_at_once_and_label_sets_are_independent():
    assert run(rule(), [(0, {"a": 11, "b": 1}), (15, {"a": 11, "b": 11}), (30, {"b": 11})]) == [
        [("a", "firing")], [("b", "firing")], [("a", "resolved")]]


def test_a_pending_alert_that_stops_holding_is_inactive_and_starts_over():
    r = rule(for_=60)
    assert run(r, [(0, {"a": 11}), (30, {"a": 1}), (45, {"a": 11}), (90, {"a": 11}), (105, {"a": 11})]) == [
        [("a", "pending")], [("a", "inactive")], [("a", "pending")], [], [("a", "firing")]]


def test_the_firing_event_keeps_when_the_condition_started():
    r = rule(for_=60, op="<", threshold=1)
    active, _ = step(r, {}, [Observation({}, 0)], T0)
    _, events = step(r, active, [Observation({}, 0)], T0 + dt.timedelta(minutes=1))
    assert [(e.state, e.since, e.at) for e in events] == [("firing", T0, T0 + dt.timedelta(minutes=1))]


def test_a_failed_evaluation_fires_an_error_alert_once_and_keeps_the_others():
    r = rule()
    active, _ = step(r, {}, [Observation({"service": "a"}, 11)], T0)
    active, events = step_failed(r, active, "Code: 47. Unknown identifier", T0 + dt.timedelta(seconds=15))
    assert [(dict(e.labels), e.state, e.message) for e in events] == [
        (ERROR_LABELS, "firing", "Code: 47. Unknown identifier")]
    active, events = step_failed(r, active, "again", T0 + dt.timedelta(seconds=30))
    assert events == [] and len(active) == 2
    active, events = step(r, active, [Observation({"service": "a"}, 11)], T0 + dt.timedelta(seconds=45))
    assert [(dict(e.labels), e.state) for e in events] == [(ERROR_LABELS, "resolved")] and len(active) == 1
