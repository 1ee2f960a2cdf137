"""A real Alertmanager receives the trigger's alert through POST /api/v2/alerts and delivers it,
through its own routing, to a local webhook receiver; the resolved alert arrives resolved."""
from __future__ import annotations

import json
import urllib.request

import pytest
from stackeye.core.retry import Backoff
from stackeye.events import rule_file
from stackeye.events.engine import TriggerEngine
from support.alertmanager import Alertmanager
from support.webhook_receiver import WebhookReceiver

from .test_engine import load_errors, minute


@pytest.fixture
def receiver():
    with WebhookReceiver() as r:
        yield r


@pytest.fixture
def alertmanager(tmp_path, receiver):
    am = Alertmanager(str(tmp_path), receiver.url + "/alertmanager").start()
    yield am
    am.stop()


def test_alertmanager_delivers_firing_then_resolved(chdb_storage, alertmanager, receiver):
    storage = chdb_storage()
    load_errors(storage)
    doc = rule_file.from_mapping_doc({
        "trigger": [{"name": "checkout-errors", "template": "error_rate",
                     "params": {"service": "checkout", "max_rate": "0.2", "window": "1m"}, "for": "1m",
                     "severity": "critical", "annotations": {"summary": "checkout fails"}}],
        "notifier": [{"kind": "alertmanager", "url": alertmanager.url}]})
    engine = TriggerEngine(storage, doc, generator_base="http://stackeye.test:8080", backoff=Backoff(0.05, 0.2))
    for m in (1, 2):
        engine.evaluate(minute(m))
    firing = receiver.wait_for(lambda got: any(r["json"]["status"] == "firing" for r in got))
    note = next(r["json"] for r in firing if r["json"]["status"] == "firing")
    alert = note["alerts"][0]
    assert alert["labels"] == {"alertname": "checkout-errors", "severity": "critical", "service": "checkout"}
    assert alert["annotations"] == {"summary": "checkout fails"}
    assert alert["generatorURL"] == "http://stackeye.test:8080/api/v1/events?rule=checkout-errors"
    assert alert["startsAt"].startswith(minute(1).strftime("%Y-%m-%dT%H:%M:%S"))
    # Alertmanager has it as an active alert
    with urllib.request.urlopen(alertmanager.url + "/api/v2/alerts") as resp:
        assert [a["labels"]["alertname"] for a in json.load(resp)] == ["checkout-errors"]
    engine.evaluate(minute(7))
    got = receiver.wait_for(lambda got: any(r["json"]["status"] == "resolved" for r in got))
    resolved = next(r["json"] for r in got if r["json"]["status"] == "resolved")
    assert resolved["alerts"][0]["status"] == "resolved"
    assert resolved["alerts"][0]["endsAt"].startswith(minute(7).strftime("%Y-%m-%dT%H:%M:%S"))
    history = engine.store.history(rule="checkout-errors")
    assert [(h["state"], [d["outcome"] for d in h["deliveries"]]) for h in history] == [
        ("resolved", ["delivered"]), ("firing", ["delivered"]), ("pending", [])]
