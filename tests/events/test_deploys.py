"""Deploy events: the pure rules of :func:`changes`, and on spans in chDB a rolling deploy announced
once, a restart announcing nothing again, a rollback, and the notifiers that take them (info only)."""
from __future__ import annotations

import datetime as dt

from stackeye.core.retry import Backoff
from stackeye.events import rule_file
from stackeye.events.deploys import DeployTracker, Known, Seen, changes
from stackeye.events.engine import TriggerEngine
from stackeye.events.store import EventStore
from support import decision_data as data
from support import recent
from support.webhook_receiver import WebhookReceiver

T0 = recent.at(12, 0)


def minute(m: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=m)


def seen(version: str, first: float, last: float, service: str = "checkout") -> Seen:
    return Seen(service, version, minute(first), minute(last))


def announced(found) -> list[tuple[str, str, str]]:
    return [(d.service, d.version, d.previous) for d in found]


def test_the_first_version_is_a_baseline_and_a_new_one_a_deploy():
    found, state = changes({}, [seen("1.0", 0, 5)])
    assert found == [] and state["checkout"].current == "1.0"
    found, state = changes(state, [seen("1.0", 6, 9), seen("1.1", 7, 10)])  # rolling: 1.0 still answers
    assert announced(found) == [("checkout", "1.1", "1.0")] and found[0].at == minute(7)
    again, _ = changes(state, [seen("1.0", 8, 10), seen("1.1", 8, 10.5)])  # old replicas: no flapping back
    assert again == []


def test_a_rollback_is_a_deploy_once_the_current_version_is_silent():
    known = {"checkout": Known("1.1", {"1.0", "1.1"}, minute(5))}
    found, state = changes(known, [seen("1.1", 6, 8), seen("1.0", 6, 8.5)])
    assert found == []  # both answer
    found, state = changes(state, [seen("1.1", 7, 8), seen("1.0", 7, 12)])
    assert announced(found) == [("checkout", "1.0", "1.1")] and found[0].at == minute(8)
    assert state["checkout"].current == "1.0"


def test_a_version_older_than_the_current_one_is_no_deploy():
    """A restart re-reads the spans from before the current version came."""
    known = {"checkout": Known("1.1", {"1.1"}, minute(5))}
    assert changes(known, [seen("1.0", 0, 6), seen("1.1", 5, 10)])[0] == []


def rolling(storage, service: str, version: str, minutes, n: int = 3) -> None:
    for m in minutes:
        data.insert(storage, _versioned(service, version, minute(m), n))


def _versioned(service: str, version: str, start: dt.datetime, n: int):
    req = data.spans(service, f"{service}-{version}", start, [10] * n, step_s=10)
    attr = req.resource_spans[0].resource.attributes.add()
    attr.key, attr.value.string_value = "service.version", version
    return req


def test_a_rolling_deploy_is_recorded_once_and_a_restart_announces_nothing_again(chdb_storage):
    storage = chdb_storage()
    rolling(storage, "checkout", "1.0", range(0, 5))
    rolling(storage, "cart", "7", range(0, 8))  # never changes
    tracker = DeployTracker(storage, lookback_s=3600)
    assert tracker.scan(minute(2.5)) == []  # the baseline
    rolling(storage, "checkout", "1.1", range(3, 8))  # 1.0 keeps answering until minute 4
    first = tracker.scan(minute(8.5))
    assert [(s.event.rule, dict(s.event.labels), s.severity) for s in first] == [
        ("deploy", {"service": "checkout", "version": "1.1"}, "info")]
    assert first[0].event.at == minute(3) and "was 1.0" in first[0].event.message
    assert tracker.scan(minute(9)) == []
    restarted = DeployTracker(storage, lookback_s=3600)  # a new process re-reads the last hour
    assert restarted.scan(minute(9.5)) == []

    rolling(storage, "checkout", "1.0", range(11, 14))  # a rollback: 1.1 is silent
    back = restarted.scan(minute(14.5))
    assert [dict(s.event.labels) for s in back] == [{"service": "checkout", "version": "1.0"}]
    history = EventStore(storage).history(rule="deploy")
    assert [(h["labels"]["version"], h["severity"]) for h in history] == [("1.0", "info"), ("1.1", "info")]


def test_deploy_events_go_only_to_notifiers_that_ask_for_info(chdb_storage):
    storage = chdb_storage()
    rolling(storage, "checkout", "1.0", range(0, 2))
    tracker = DeployTracker(storage)
    tracker.scan(minute(2.5))
    rolling(storage, "checkout", "1.1", range(3, 5))
    assert len(tracker.scan(minute(5.5))) == 1
    with WebhookReceiver() as everything, WebhookReceiver() as info:
        doc = {"notifier": [{"name": "all", "kind": "webhook", "url": everything.url, "retry_for": "5s"},
                            {"name": "info", "kind": "webhook", "url": info.url, "retry_for": "5s",
                             "severities": ["info", "critical"]}]}
        TriggerEngine(storage, rule_file.from_mapping_doc(doc), backoff=Backoff(0.05, 0.2)).evaluate(minute(6))
        assert everything.received == []
        assert [(r["json"]["rule"], r["json"]["labels"]["version"]) for r in info.received] == [("deploy", "1.1")]
