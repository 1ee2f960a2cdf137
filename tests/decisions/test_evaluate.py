"""decisions.evaluate: inputs → state → decide → store; a restart continues, --at replays, reads store nothing.

The policies here are the test doubles of support.fake_policies (the evaluator's job is the same
whatever a policy decides); tests/decisions/test_evaluate_policies.py runs the real ones.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from stackeye.decisions import policy_file
from stackeye.decisions.evaluate import Evaluator, parse_at
from stackeye.query.views.params import ParamError
from support.decision_data import gauge, insert, spans
from support.fake_policies import KNOWN, ROUTING, policy_of
from support import recent

T1 = recent.at(9, 0, 0)
S = dt.timedelta(seconds=1)
POLICIES = {"autoscale": {"checkout": {"cpu_pct": 60, "max_replicas": 10}}, "routing": {"checkout": {}}}


def _load(storage, at, cpu, replicas=4):
    """Each replica served requests in the minute before ``at`` at ``cpu`` (0..1)."""
    for i in range(replicas):
        insert(storage, spans("checkout", f"r{i}", at - 50 * S, [10] * 5, host=f"h{i}", step_s=5),
               gauge("checkout", f"r{i}", "process.cpu.utilization", [(at - 30 * S, cpu)]))


def _evaluator(storage, doc=POLICIES):
    return Evaluator(storage, policy_file.from_mapping_doc(doc, **KNOWN), policy_of=policy_of)


def _reopen(storage):
    from stackeye.storage.chdb_storage import ChdbStorage

    url = storage.url
    storage.close()
    return ChdbStorage(url)


def test_a_restart_in_a_scale_down_window_does_not_flap(chdb_storage):
    storage = chdb_storage()
    _load(storage, T1, 0.9)
    (d,) = _evaluator(storage).autoscale(at=T1)
    assert (d.current_replicas, d.desired_replicas) == (4, 6)  # ceil(4 × 90 / 60)
    later = T1 + 60 * S
    _load(storage, later, 0.3)  # load drops: CPU alone asks for 2
    (d,) = _evaluator(storage).autoscale(at=later)
    assert d.desired_replicas == 6
    storage = _reopen(storage)  # the process restarts: nothing but the store survives
    for t in (T1 + 120 * S, T1 + 299 * S):
        _load(storage, t, 0.3)
        (d,) = _evaluator(storage).autoscale(at=t)
        assert d.desired_replicas == 6, f"flapped at {t}"
    after = T1 + 301 * S
    _load(storage, after, 0.3)
    (d,) = _evaluator(storage).autoscale(at=after)
    assert d.desired_replicas == 2  # the window passed
    storage.close()


def test_at_replays_a_past_instant_and_reads_store_nothing(chdb_storage):
    storage = chdb_storage()
    ev = _evaluator(storage)
    _load(storage, T1, 0.9)
    ev.autoscale(at=T1)
    later = T1 + 60 * S
    _load(storage, later, 0.3)
    ev.autoscale(at=later)
    before = ev.history("autoscale")
    (then,) = ev.autoscale(at=T1 + 59 * S, persist=False)  # as of then: T1's state, the inputs of then
    assert (then.at, then.desired_replicas) == (T1 + 59 * S, 6)
    (past,) = ev.autoscale(at=T1 - 600 * S, persist=False)  # before anything: no state, no replicas
    assert past.current_replicas == 0
    assert ev.history("autoscale") == before  # nothing stored by either
    assert [r["decision"]["desired_replicas"] for r in before] == [6, 6]


def test_services_without_a_table_and_the_one_asked_for(chdb_storage):
    storage = chdb_storage()
    _load(storage, T1, 0.9)
    insert(storage, spans("search", "s1", T1 - 20 * S, [5] * 3))
    every = _evaluator(storage, {}).autoscale(at=T1, persist=False)  # no tables: every live service, defaults
    assert [d.service for d in every] == ["checkout", "search"]
    (one,) = _evaluator(storage).autoscale("search", at=T1, persist=False)
    assert (one.service, one.current_replicas, one.desired_replicas) == ("search", 1, 1)


def test_routing_carries_state_and_says_what_changed(chdb_storage):
    storage = chdb_storage()
    ev = _evaluator(storage)
    insert(storage, spans("checkout", "r0", T1 - 20 * S, [10] * 5),
           spans("checkout", "r1", T1 - 20 * S, [10] * 6, status=[200] + [503] * 5))
    first = {d.server: d for d in ev.routing("checkout", at=T1)}
    assert (first["r0"].state, first["r0"].weight) == ("active", 100)
    assert (first["r1"].state, first["r1"].weight) == ("ejected", 0)
    second = ev.routing("checkout", at=T1 + S)
    assert [d.server for d in second] == ["r0", "r1"]
    assert ev.store.state_at("routing", "checkout", T1 + S, policy_of("routing").state_type) \
        .servers["r1"].times_ejected == 2
    rows = ev.history("routing", "checkout")
    assert [(r["subject"], r["changed"]) for r in rows] == [("r0", False), ("r1", False), ("r0", True), ("r1", True)]


def test_one_failing_policy_does_not_stop_the_others(chdb_storage):
    storage = chdb_storage()
    _load(storage, T1, 0.6)

    def decide(loads, settings, state, now):
        if settings.service == "boom":
            raise RuntimeError("a policy bug")
        return ROUTING.decide(loads, settings, state, now)

    policies = {"autoscale": policy_of("autoscale"), "routing": dataclasses.replace(ROUTING, decide=decide)}
    doc = {"autoscale": {"checkout": {}}, "routing": {"broken": {"service": "boom"}, "checkout": {}}}
    ev = Evaluator(storage, policy_file.from_mapping_doc(doc, **KNOWN), policy_of=policies.__getitem__)
    result = ev.evaluate(at=T1)
    assert [(f.kind, f.key, f.error) for f in result.failures] == [("routing", "broken", "RuntimeError: a policy bug")]
    assert [(e.kind, e.key) for e in result.evaluations] == [("autoscale", "checkout"), ("routing", "checkout")]


def test_parse_at():
    now = recent.at(12)
    assert parse_at(None) is None and parse_at("") is None
    assert parse_at("-2h", now) == now - dt.timedelta(hours=2)
    assert parse_at("2026-11-26T10:00:00Z") == dt.datetime(2026, 11, 26, 10, tzinfo=dt.timezone.utc)
    with pytest.raises(ParamError, match="'at'.*neither an RFC 3339 time"):
        parse_at("yesterday")
