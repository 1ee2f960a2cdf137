"""decisions.backtest + replay: stored history through a policy, step by step, state in memory,
nothing written — the same decisions as the Evaluator evaluating (and persisting) at each step."""
from __future__ import annotations

import datetime as dt

import pytest
from stackeye.decisions import backtest as bt
from stackeye.decisions import policy_file
from stackeye.decisions.evaluate import Evaluator
from stackeye.decisions.replay import MemoryStore, Replay
from support.backtest_history import POLICY, SERVICE, load
from support import recent



START = recent.at(9, 0)


@pytest.fixture(scope="module")
def history(chdb_path, tmp_path_factory):
    from stackeye.storage.chdb_storage import ChdbStorage
    from stackeye.storage.url import parse_storage_url

    storage = ChdbStorage(parse_storage_url(f"chdb://{chdb_path}?database=decisions_backtest"))
    storage.migrate()
    load(storage, START)
    path = tmp_path_factory.mktemp("policy") / "p.toml"
    path.write_text(POLICY)
    yield storage, str(path)
    storage.close()


def _times():
    return bt.instants(START + dt.timedelta(minutes=1), START + dt.timedelta(minutes=19), 30.0)


def test_backtest_gives_the_evaluators_decisions_step_by_step(history):
    storage, path = history
    steps = bt.backtest("autoscale", _times(), Replay(storage, path, "autoscale", SERVICE).evaluate)
    assert storage.query("SELECT count() FROM stackeye_decisions").rows[0][0] == 0  # the replay wrote nothing
    reference = Evaluator(storage, policy_file.load(path))
    expected = [reference.autoscale(SERVICE, at=t, persist=True)[0] for t in _times()]
    got = [s.decisions[0] for s in steps]
    assert [(d.desired_replicas, d.limiting_target, d.reason) for d in got] == \
        [(d.desired_replicas, d.limiting_target, d.reason) for d in expected]
    # hot: 3 → 5 (90 % for 60 %); idle: held by the scale-down window, then down
    assert got[0].current_replicas == 3 and got[0].desired_replicas == 5
    assert steps[0].load_rps == pytest.approx(1.5) and steps[0].replicas == 3 and steps[0].p95_ms == pytest.approx(40, abs=1)
    assert got[-1].desired_replicas < 3


def test_changes_keep_the_first_step_and_each_new_decision(history):
    storage, path = history
    steps = bt.backtest("autoscale", _times(), Replay(storage, path, "autoscale", SERVICE).evaluate)
    changed = bt.changes(steps)
    assert changed[0] is steps[0] and len(changed) < len(steps)
    assert all(a.outcome != b.outcome for a, b in zip(changed, changed[1:]))


def test_memory_store_returns_the_latest_state_at_or_before():
    from stackeye.decisions.store import Evaluation

    store = MemoryStore()
    t = START
    store.record([Evaluation("autoscale", "s", t, "one", ()), Evaluation("autoscale", "s", t + dt.timedelta(1), "two", ())])
    assert store.state_at("autoscale", "s", t) == "one"
    assert store.states_at("autoscale", ["s", "x"], t + dt.timedelta(2)) == {"s": "two"}
    assert store.state_at("autoscale", "s", t - dt.timedelta(1)) is None


def test_instants_and_their_errors():
    now = START
    assert bt.instant("-1h", now, "--from") == now - dt.timedelta(hours=1)
    assert bt.instant("now", now, "--to") == now
    assert bt.instant("2026-12-01T08:00:00Z", now, "--from") == dt.datetime(2026, 12, 1, 8, tzinfo=dt.timezone.utc)
    with pytest.raises(Exception, match="--from: .*-24h"):
        bt.instant("yesterday", now, "--from")
    with pytest.raises(Exception, match="must be before --to"):
        bt.instants(now, now - dt.timedelta(1), 15)
    assert len(bt.instants(now, now + dt.timedelta(minutes=1), 15)) == 5
