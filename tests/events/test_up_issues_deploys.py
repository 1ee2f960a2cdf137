"""``stackeye up --triggers FILE`` end to end: the issue sync and the deploy scan run inside up's
trigger rounds — an error span sent over OTLP becomes an issue listed by GET /api/v1/issues, a
new service.version a deploy event listed by ``stackeye events --rule deploy`` and sent to the
notifier that asks for info events."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import urllib.request

from support import decision_data as data
from support.server import StackeyeServer
from support.wait import wait_until
from support.webhook_receiver import WebhookReceiver

TRIGGERS = """
[[notifier]]
kind = "webhook"
url = "{url}"
severities = ["warning", "info"]
"""


def post(server: StackeyeServer, request) -> None:
    req = urllib.request.Request(server.otlp_http_url + "/v1/traces", data=request.SerializeToString(),
                                 method="POST", headers={"Content-Type": "application/x-protobuf"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200


def versioned(version: str, start: dt.datetime, status: list[int]):
    req = data.spans("checkout", f"checkout-{version}", start, [15] * len(status), status=status, step_s=1)
    attr = req.resource_spans[0].resource.attributes.add()
    attr.key, attr.value.string_value = "service.version", version
    return req


def test_issues_and_deploys_inside_up(tmp_path):
    with WebhookReceiver() as hook:
        path = tmp_path / "triggers.toml"
        path.write_text(TRIGGERS.format(url=hook.url))
        srv = StackeyeServer(str(tmp_path / "data"), ["--triggers", str(path), "--trigger-interval", "1s"]).start()
        try:
            # spans of this minute, sent after up's first round: the issue sync reads each whole minute
            # once it is over (the issue is listed within a minute), the deploy scan up to the instant
            start = dt.datetime.now(dt.timezone.utc)
            post(srv, versioned("1.0", start, [200, 200, 500]))
            assert srv.wait_for_count("SELECT count() AS n FROM otel_traces", 3) == 3
            post(srv, versioned("1.1", start + dt.timedelta(seconds=3), [200, 200]))

            def issues():
                status, body = srv.request("GET", "/api/v1/issues")
                assert status == 200, body
                return json.loads(body)["issues"]

            [issue] = wait_until(issues, timeout=120, message=lambda: f"no issue listed\n{srv.log_tail()}")
            assert (issue["status"], issue["count"], issue["services"]) == ("new", 1, ["checkout"])

            def deploys():
                done = subprocess.run([sys.executable, "-m", "stackeye.cli.main", "events", "--url", srv.http_url,
                                       "--rule", "deploy", "--format", "json"], capture_output=True, text=True,
                                      timeout=60)
                assert done.returncode == 0, done.stderr
                return json.loads(done.stdout)

            [deploy] = wait_until(deploys, timeout=60, message=lambda: f"no deploy event\n{srv.log_tail()}")
            assert (deploy["labels"], deploy["severity"]) == ({"service": "checkout", "version": "1.1"}, "info")
            assert "was 1.0" in deploy["message"]
            got = hook.wait_for(lambda got: {r["json"]["rule"] for r in got} >= {"issue_new", "deploy"})
            assert sorted(r["json"]["rule"] for r in got) == ["deploy", "issue_new"]
        finally:
            srv.stop()
