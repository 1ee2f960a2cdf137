"""Issues on error spans in chDB: the store round trip and a restart, and end to end: error spans →
sync → issue listed → resolve → new error spans → regressed, with an event recorded and notified."""
from __future__ import annotations

import datetime as dt

from stackeye.core.retry import Backoff
from stackeye.events import issues as lc
from stackeye.events import rule_file
from stackeye.events.engine import TriggerEngine
from stackeye.events.issue_store import IssueStore
from stackeye.events.issue_sync import IssueSync
from stackeye.events.store import EventStore
from support import decision_data as data
from support import recent
from support.webhook_receiver import WebhookReceiver

T0 = recent.at(10, 0)


def minute(m: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=m)


def failing(storage, m: float, n: int = 4) -> None:
    data.insert(storage, data.spans("checkout", "c1", minute(m), [20] * n, status=[500] * n, step_s=1))


def test_store_round_trip_and_restart(chdb_storage):
    storage = chdb_storage()
    issue, _ = lc.observe(None, lc.ErrorGroup("fp", "E", "it's ? broken", 3, minute(0), minute(0.5), "abc",
                                              ("checkout",), ("GET /x",)), minute(1))
    store = IssueStore(storage)
    store.save([issue], minute(1))
    resolved = lc.act(issue, "resolve", minute(2))
    store.save([resolved], minute(1))
    assert IssueStore(storage).latest() == [resolved]
    assert IssueStore(storage).latest(status="new") == []
    assert store.get("nope") is None and store.synced_to() == minute(1)

    failing(storage, 0)
    sync = IssueSync(storage, lookback_s=600)
    sync.sync(minute(2))
    assert IssueSync(storage).sync(minute(2)).changed == []  # a restart resumes where the last sync stopped


def test_error_spans_to_issue_to_resolve_to_regression(chdb_storage):
    storage = chdb_storage()
    failing(storage, 0)
    sync = IssueSync(storage, lookback_s=600)
    first = sync.sync(minute(1.5))
    [issue] = IssueStore(storage).latest()
    assert (issue.status, issue.count, issue.services) == ("new", 4, ("checkout",))
    assert issue.sample_trace_id and issue.first_seen >= minute(0)
    assert [(s.event.rule, s.event.fingerprint) for s in first.events] == [("issue_new", issue.fingerprint)]

    failing(storage, 1)
    sync.sync(minute(2.5))
    assert IssueStore(storage).get(issue.fingerprint).status == "open"
    assert IssueStore(storage).get(issue.fingerprint).count == 8

    sync.act(issue.fingerprint, "resolve", minute(3))
    assert sync.sync(minute(3.5)).events == []
    failing(storage, 4)
    again = IssueSync(storage)  # a restarted process
    regressed = again.sync(minute(5.5))
    got = IssueStore(storage).get(issue.fingerprint)
    assert (got.status, got.count, got.regressions) == ("regressed", 12, 1)
    assert [s.event.rule for s in regressed.events] == ["issue_regressed"]

    with WebhookReceiver() as hook:
        t = rule_file.from_mapping_doc({"notifier": [{"kind": "webhook", "url": hook.url, "retry_for": "5s"}]})
        TriggerEngine(storage, t, backoff=Backoff(0.05, 0.2)).evaluate(minute(5.6))
        rules = [(r["json"]["rule"], r["json"]["labels"]["fingerprint"]) for r in hook.received]
    assert rules == [("issue_new", issue.fingerprint), ("issue_regressed", issue.fingerprint)]
    assert [e["rule"] for e in EventStore(storage).history(rule="issue_regressed")] == ["issue_regressed"]
