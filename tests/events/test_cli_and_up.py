"""The triggers through the command line and ``stackeye up --triggers FILE``: a bad file exits 2
naming rule and field; up evaluates on its schedule, notifies, answers the API and the CLI, and
PUT /api/v1/triggers replaces the rules (or refuses a bad set whole)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support.server import StackeyeServer
from support.wait import wait_until
from support.webhook_receiver import WebhookReceiver


def stackeye(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stackeye.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout)


BAD = """
[[trigger]]
name = "fine"
sql = "SELECT 1 AS value"

[[trigger]]
name = "checkout-slow"
view = "services"
value = "p95_ms"
threshold = "fast"
"""


def test_a_bad_rule_file_exits_2_naming_the_rule_and_the_field(tmp_path):
    path = tmp_path / "triggers.toml"
    path.write_text(BAD)
    for args in (["triggers", "check", str(path)], ["up", "--triggers", str(path), "--data-dir", str(tmp_path / "d")]):
        done = stackeye(*args)
        assert done.returncode == 2, done.stderr
        assert "trigger 'checkout-slow', field threshold" in done.stderr and "expected a number" in done.stderr


def test_check_lists_a_good_file(tmp_path):
    path = tmp_path / "triggers.toml"
    path.write_text('[[trigger]]\nname = "errors"\ntemplate = "error_rate"\nfor = "2m"\n'
                    '[[notifier]]\nkind = "log"\n')
    done = stackeye("triggers", "check", str(path))
    assert done.returncode == 0, done.stderr
    assert "errors: view services.error_rate > 0.05 for 120s (warning)" in done.stdout
    assert "1 triggers, notifiers: log" in done.stdout


RULES = """
[[trigger]]
name = "always"
sql = "SELECT 'checkout' AS service, 3 AS value"
threshold = {threshold}
severity = "critical"

[[notifier]]
kind = "webhook"
url = "{url}"
secret = "k"
"""


@pytest.fixture
def receiver():
    with WebhookReceiver() as r:
        yield r


def test_up_evaluates_notifies_and_answers(tmp_path, receiver):
    path = tmp_path / "triggers.toml"
    path.write_text(RULES.format(threshold=1, url=receiver.url))
    srv = StackeyeServer(str(tmp_path / "data"), ["--triggers", str(path), "--trigger-interval", "1s"]).start()
    try:
        got = receiver.wait_for(lambda got: len(got) >= 1)
        assert got[0]["json"]["state"] == "firing" and got[0]["json"]["labels"]["service"] == "checkout"
        status, body = srv.request("GET", "/api/v1/triggers")
        rules = json.loads(body)["rules"]
        assert status == 200 and [(r["name"], [a["state"] for a in r["active"]]) for r in rules] == [
            ("always", ["firing"])]
        listed = stackeye("triggers", "list", "--url", srv.http_url, "--format", "json")
        assert listed.returncode == 0 and json.loads(listed.stdout)[0]["active"][0]["labels"] == {"service": "checkout"}

        status, body = srv.request("PUT", "/api/v1/triggers", {"trigger": [{"name": "always", "sql": "x",
                                                                             "op": "about"}]})
        assert status == 400 and json.loads(body)["rule"] == "always" and json.loads(body)["field"] == "op"
        doc = {"trigger": [{"name": "always", "sql": "SELECT 'checkout' AS service, 3 AS value", "threshold": 5,
                            "severity": "critical"}],
               "notifier": [{"kind": "webhook", "url": receiver.url, "secret": "k"}]}
        status, body = srv.request("PUT", "/api/v1/triggers", doc)
        assert status == 200, body
        got = receiver.wait_for(lambda got: any(r["json"]["state"] == "resolved" for r in got))
        assert [r["json"]["state"] for r in got] == ["firing", "resolved"]
        assert "threshold = 5" in path.read_text()

        events = stackeye("events", "--url", srv.http_url, "--format", "json", "--rule", "always")
        assert events.returncode == 0, events.stderr
        assert [(e["state"], [d["outcome"] for d in e["deliveries"]]) for e in json.loads(events.stdout)] == [
            ("resolved", ["delivered"]), ("firing", ["delivered"])]
        firing = stackeye("events", "--url", srv.http_url, "--state", "firing")
        assert "always" in firing.stdout and "webhook:delivered" in firing.stdout and "resolved" not in firing.stdout
    finally:
        srv.stop()
