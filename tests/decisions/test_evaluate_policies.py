"""The evaluator with the registered policies (stackeye.decisions.autoscale / routing, from wip/policies):
a restart in the middle of a scale-down window does not flap, and --at replays."""
from __future__ import annotations

import datetime as dt
import importlib.util

import pytest
from stackeye.decisions import policy_file, registry
from stackeye.decisions.evaluate import Evaluator
from support.decision_data import gauge, insert, spans
from support import recent


T1 = recent.at(9, 0, 0)
S = dt.timedelta(seconds=1)


def _load(storage, at, cpu, replicas=4):
    for i in range(replicas):
        insert(storage, spans("checkout", f"r{i}", at - 50 * S, [10] * 5, host=f"h{i}", step_s=5),
               gauge("checkout", f"r{i}", "process.cpu.utilization", [(at - 30 * S, cpu), (at - 10 * S, cpu)]))


def _reopen(storage):
    from stackeye.storage.chdb_storage import ChdbStorage

    url = storage.url
    storage.close()
    return ChdbStorage(url)


def test_a_restart_in_a_scale_down_window_does_not_flap(chdb_storage):
    storage = chdb_storage()
    policies = policy_file.from_mapping_doc({"autoscale": {"checkout": {}}})
    _load(storage, T1, 0.95)
    (up,) = Evaluator(storage, policies).autoscale(at=T1)
    assert up.desired_replicas > up.current_replicas, up.reason
    n = up.desired_replicas  # the scale-up was applied: n replicas from now on
    _load(storage, T1 + 60 * S, 0.05, n)
    (d,) = Evaluator(storage, policies).autoscale(at=T1 + 60 * S)
    assert d.desired_replicas == up.desired_replicas, d.reason
    storage = _reopen(storage)
    for t in (T1 + 120 * S, T1 + 290 * S):
        _load(storage, t, 0.05, n)
        (d,) = Evaluator(storage, policies).autoscale(at=t)
        assert d.desired_replicas == up.desired_replicas, f"flapped at {t}: {d.reason}"
    _load(storage, T1 + 400 * S, 0.05, n)
    (down,) = Evaluator(storage, policies).autoscale(at=T1 + 400 * S)
    assert down.desired_replicas < up.desired_replicas, down.reason
    (then,) = Evaluator(storage, policies).autoscale(at=T1 + 60 * S, persist=False)
    assert then.desired_replicas == up.desired_replicas  # --at: as of then
    storage.close()


def test_routing_with_the_registered_policy(chdb_storage):
    storage = chdb_storage()
    insert(storage, *(spans("pay", f"p{i}", T1 - 20 * S, [10] * 20) for i in range(3)))
    rows = Evaluator(storage, policy_file.from_mapping_doc({"routing": {"pay": {}}})).routing("pay", at=T1)
    assert sorted(r.server for r in rows) == ["p0", "p1", "p2"]
    assert {r.state for r in rows} == {"active"} and {r.breaker for r in rows} == {"closed"}
