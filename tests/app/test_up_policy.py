"""``stackeye up --policy FILE`` end to end: instrumented processes → up → scheduler, API and CLI.

Two processes instrumented with stackeye.instrumentation serve SERVER spans and report their CPU;
the running ``stackeye up`` evaluates the policy file on its schedule, keeps the history, and
answers the API and ``stackeye decide`` over HTTP. The policies are the test doubles (launched
through support/up_fake_policies.py), so this tests the assembly, not what a policy decides.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from stackeye.cli.main import main
from support.fake_registry import fake_policies  # noqa: F401 (fixture)
from support.server import StackeyeServer
from support.wait import wait_until

LAUNCHER = [os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support", "up_fake_policies.py")]
POLICY = '[autoscale.worker]\ncpu_pct = 60\nmax_replicas = 8\n\n[routing.worker]\nwindow = "1m"\n'
WORKER = textwrap.dedent("""
    import time
    from opentelemetry import trace
    from stackeye.instrumentation import runtime
    pipe = runtime.init(service_name="worker", endpoint="{endpoint}", auto_instrument=False, logs=False,
                        metric_interval_ms=500.0, schedule_delay_ms=100.0, callstack=False)
    tracer = trace.get_tracer("worker")
    end = time.time() + 3
    while time.time() < end:
        with tracer.start_as_current_span("GET /work", kind=trace.SpanKind.SERVER):
            sum(i * i for i in range(20000))  # some CPU
        time.sleep(0.05)
    pipe.shutdown(timeout_s=5)
""")


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    folder = tmp_path_factory.mktemp("up-policy")
    policy = folder / "policies.toml"
    policy.write_text(POLICY)
    srv = StackeyeServer(str(folder / "data"), ["--policy", str(policy), "--decide-interval", "1s"],
                         launcher=LAUNCHER).start()
    workers = [subprocess.Popen([sys.executable, "-c", WORKER.format(endpoint=srv.otlp_grpc)]) for _ in range(2)]
    for w in workers:
        assert w.wait(60) == 0
    srv.policy = policy
    yield srv
    srv.stop()


def _get(srv, path):
    status, body = srv.request("GET", path)
    assert status == 200, body
    return json.loads(body)


def test_instrumented_replicas_become_the_current_replicas(up):
    def two():
        rows = _get(up, "/api/v1/decisions/autoscale?service=worker")["decisions"]
        return rows if rows and rows[0]["current_replicas"] == 2 else None

    (row,) = wait_until(two, timeout=30, message=lambda: f"no 2 replicas yet\n{up.log_tail()}")
    assert row["service"] == "worker" and row["desired_replicas"] >= 1 and row["reason"]
    cpu = up.sql("SELECT uniqExact(ResourceAttributes['service.instance.id']) AS n FROM otel_metrics_gauge "
                 "WHERE ServiceName = 'worker' AND MetricName = 'process.cpu.utilization'")
    assert cpu[0]["n"] == 2


def test_the_scheduler_keeps_the_history_and_counts(up):
    wait_until(lambda: _get(up, "/api/v1/decisions/history?kind=autoscale&key=worker")["rows"], timeout=30,
               message=lambda: f"the scheduler stored nothing\n{up.log_tail()}")
    assert _get(up, "/api/v1/decisions/history?kind=routing&key=worker")["rows"]
    status, text = up.request("GET", "/metrics")
    assert b'stackeye_decisions_total{changed=' in text and b"stackeye_decision_evaluation_seconds" in text
    assert b'stackeye_decision_evaluations_total{kind="autoscale",outcome="ok"}' in text


def test_the_cli_asks_the_running_stackeye(up, capsys, tmp_path, fake_policies):  # noqa: F811
    assert main(["decide", "autoscale", "--url", up.http_url, "--service", "worker", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["service"] == "worker"
    other = tmp_path / "other.toml"
    other.write_text("[autoscale.worker]\nmax_replicas = 1\n")
    assert main(["decide", "autoscale", "--url", up.http_url, "--policy", str(other), "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["desired_replicas"] == 1  # the file given, not the running one
    assert main(["decide", "routing", "--url", up.http_url, "--upstream", "worker", "--format", "json"]) == 0
    assert {r["upstream"] for r in json.loads(capsys.readouterr().out)} == {"worker"}


def test_put_policies_over_http(up):
    status, body = up.request("PUT", "/api/v1/policies", {"autoscale": {"worker": {"min_replicas": 9, "max_replicas": 3}}})
    doc = json.loads(body)
    assert status == 400 and (doc["policy"], doc["key"], doc["field"]) == ("autoscale", "worker", "max_replicas")
    assert up.policy.read_text() == POLICY
    status, body = up.request("PUT", "/api/v1/policies", {"autoscale": {"worker": {"max_replicas": 5}}})
    assert status == 200 and "max_replicas = 5" in up.policy.read_text()
    assert _get(up, "/api/v1/policies")["policies"] == {"autoscale": {"worker": {"max_replicas": 5}}}


def test_openapi_has_the_decisions(up):
    paths = _get(up, "/api/v1/openapi.json")["paths"]
    assert "/api/v1/decisions/autoscale" in paths and "/api/v1/policies" in paths


@pytest.mark.parametrize("text, named", [
    ("[autoscale.worker]\nmax_replica = 3\n", "unknown key 'autoscale.worker.max_replica'"),
    ("[autoscale.worker]\nmin_replicas = 4\nmax_replicas = 2\n", "autoscale.worker.max_replicas: must be at least"),
    ("[autoscale.worker]\ncpu_pct = 0\n", "autoscale.worker.cpu_pct: must be positive"),
])
def test_up_with_a_bad_policy_file_exits_2(tmp_path, text, named):
    policy = tmp_path / "bad.toml"
    policy.write_text(text)
    out = subprocess.run([sys.executable, *LAUNCHER, "up", "--data-dir", str(tmp_path / "data"), "--policy",
                          str(policy)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert str(policy) in out.stderr and named in out.stderr
