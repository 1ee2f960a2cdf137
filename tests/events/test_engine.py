"""events.engine on generated spans in chDB: fire and resolve with `for`, no repeat while firing,
a restart that notifies nothing twice, a failing rule that is an event of its own, a webhook that
fails first and still gets every event, signed."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from stackeye.core.retry import Backoff
from stackeye.events import rule_file
from stackeye.events.engine import TriggerEngine
from support import decision_data as data
from support import recent
from support.webhook_receiver import WebhookReceiver

T0 = recent.at(10, 0)
SECRET = "s3cret"


def minute(m: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=m)


def load_errors(storage):
    """checkout: minutes 0-5 half its calls fail, minutes 5-10 none do; cart never fails."""
    for m in range(10):
        status = [500, 200] * 10 if m < 5 else [200] * 20
        data.insert(storage, data.spans("checkout", "c1", minute(m), [20] * 20, status=status, step_s=2.5),
                    data.spans("cart", "k1", minute(m), [20] * 20, step_s=2.5))


def triggers(url: str, *extra) -> rule_file.TriggerFile:
    return rule_file.from_mapping_doc({
        "trigger": [{"name": "errors", "template": "error_rate", "params": {"max_rate": "0.2", "window": "1m"},
                     "for": "2m", "severity": "critical", "labels": {"team": "shop"},
                     "annotations": {"summary": "too many errors"}}, *extra],
        "notifier": [{"kind": "webhook", "url": url, "secret": SECRET, "retry_for": "20s"}]})


def engine(storage, url, *extra):
    return TriggerEngine(storage, triggers(url, *extra), backoff=Backoff(0.05, 0.2))


def states(rnd):
    return [(s.event.labels.get("service"), s.event.state) for s in rnd.events]


def test_fires_after_for_once_and_resolves(chdb_storage):
    storage = chdb_storage()
    load_errors(storage)
    with WebhookReceiver() as hook:
        e = engine(storage, hook.url)
        rounds = [states(e.evaluate(minute(m))) for m in (1, 2, 3, 4, 5, 7)]
        assert rounds == [[("checkout", "pending")], [], [("checkout", "firing")], [], [], [("checkout", "resolved")]]
        got = [(r["json"]["state"], r["json"]["labels"]["service"]) for r in hook.received]
        assert got == [("firing", "checkout"), ("resolved", "checkout")]
        first = hook.received[0]["json"]
        assert first["labels"] == {"alertname": "errors", "severity": "critical", "team": "shop", "service": "checkout"}
        assert first["annotations"] == {"summary": "too many errors"} and first["value"] > 0.2
        history = e.store.history(rule="errors")
        assert [h["state"] for h in history] == ["resolved", "firing", "pending"]
        assert history[0]["deliveries"][0]["outcome"] == "delivered"


def test_a_restart_while_firing_notifies_nothing_twice(chdb_storage):
    storage = chdb_storage()
    load_errors(storage)
    with WebhookReceiver() as hook:
        first = engine(storage, hook.url)
        for m in (1, 2, 3):
            first.evaluate(minute(m))
        assert [r["json"]["state"] for r in hook.received] == ["firing"]
        again = engine(storage, hook.url)  # a new process on the same storage
        assert states(again.evaluate(minute(4))) == []
        assert states(again.evaluate(minute(7))) == [("checkout", "resolved")]
        assert [r["json"]["state"] for r in hook.received] == ["firing", "resolved"]


def test_a_webhook_failing_the_first_attempts_gets_every_event_signed(chdb_storage):
    storage = chdb_storage()
    load_errors(storage)
    with WebhookReceiver(fail_first=3) as hook:
        e = engine(storage, hook.url)
        for m in (1, 3, 7):
            e.evaluate(minute(m))
        assert [r["json"]["state"] for r in hook.received] == ["firing", "resolved"]
        assert len(hook.requests) == 5
        for r in hook.received:
            expected = "sha256=" + hmac.new(SECRET.encode(), r["raw"], hashlib.sha256).hexdigest()
            assert r["headers"]["x-stackeye-signature"] == expected
            assert r["headers"]["x-stackeye-event-id"] == r["json"]["id"]
        firing = e.store.history(state="firing")[0]
        assert [(d["attempts"], d["outcome"]) for d in firing["deliveries"]] == [(4, "delivered")]


def test_undelivered_events_survive_a_restart(chdb_storage):
    storage = chdb_storage()
    load_errors(storage)
    with WebhookReceiver(fail_first=10**6) as down:  # down for good in this process's life
        doc = triggers(down.url)
        doc = rule_file.from_mapping_doc({**doc.raw, "trigger": [{**doc.raw["trigger"][0], "for_": "0s"}],
                                          "notifier": [{"kind": "webhook", "url": down.url, "retry_for": "0s"}]})
        e = TriggerEngine(storage, doc, backoff=Backoff(0.05, 0.2))
        rnd = e.evaluate(minute(1))
        assert states(rnd) == [("checkout", "firing")] and rnd.deliveries.failed == 1
    with WebhookReceiver() as up:  # the next process: same notifier name ("webhook"), the receiver back
        doc = rule_file.from_mapping_doc({**doc.raw, "notifier": [{"kind": "webhook", "url": up.url}]})
        later = TriggerEngine(storage, doc, backoff=Backoff(0.05, 0.2))
        rnd = later.evaluate(minute(2))
        assert states(rnd) == [] and rnd.deliveries.delivered == 1
        assert [r["json"]["state"] for r in up.received] == ["firing"]
        assert later.evaluate(minute(3)).deliveries.delivered == 0


def test_a_rule_whose_sql_fails_is_an_event_of_its_own_and_the_others_keep_running(chdb_storage):
    storage = chdb_storage()
    load_errors(storage)
    broken = {"name": "broken", "sql": "SELECT no_such_column AS value FROM otel_traces", "severity": "warning"}
    with WebhookReceiver() as hook:
        e = engine(storage, hook.url, broken)
        for m in (1, 2, 3, 4):
            rnd = e.evaluate(minute(m))
            assert [f.rule for f in rnd.failures] == ["broken"]
        by_rule = [(r["json"]["rule"], r["json"]["state"], r["json"]["labels"].get("stackeye_error"))
                   for r in hook.received]
        assert by_rule == [("broken", "firing", "evaluation"), ("errors", "firing", None)]
        assert "no_such_column" in hook.received[0]["json"]["message"]
