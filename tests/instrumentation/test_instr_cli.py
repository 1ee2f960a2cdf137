"""No code change: `stackeye-instrument`, stock `opentelemetry-instrument`, and gunicorn pre-fork workers."""
from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import uuid

import pytest

APPS = os.path.join(os.path.dirname(__file__), "apps")


def tool(name: str) -> str:
    """A console script of this interpreter's environment (next to python, else on PATH)."""
    here = os.path.join(os.path.dirname(sys.executable), name)
    found = here if os.path.exists(here) else shutil.which(name)
    assert found, f"{name} is not installed (pip install -e '.[test]')"
    return found


def gunicorn_control_args(tmp_path) -> list[str]:
    """Recent gunicorn opens a control socket, by default one shared path per user: use our own."""
    import gunicorn

    major = int(gunicorn.__version__.split(".")[0])
    return ["--control-socket", os.path.join(str(tmp_path), "gunicorn.ctl")] if major >= 27 else []


def _server_and_sql(server, service: str):
    q = f"SELECT count() FROM otel_traces WHERE ServiceName = '{service}' AND SpanKind = 'Server'"
    assert server.wait_for_count(q, 1, 60) >= 1
    q = f"SELECT count() FROM otel_traces WHERE ServiceName = '{service}' AND SpanAttributes['db.system'] = 'sqlite'"
    assert server.wait_for_count(q, 1, 60) >= 1
    return server.sql(
        "SELECT SpanName, SpanKind, SpanAttributes, ResourceAttributes FROM otel_traces "
        f"WHERE ServiceName = '{service}' ORDER BY Timestamp")


@pytest.mark.slow
def test_stackeye_instrument_runs_unmodified_app(stackeye_up, launch):
    service = f"cli-{uuid.uuid4().hex[:6]}"
    cmd = [tool("stackeye-instrument"), "--service-name", service, "--endpoint", stackeye_up.otlp_grpc,
           sys.executable, "shop_flask.py"]
    app = launch(cmd, stackeye_up.otlp_grpc, SE_INIT="0")  # the app never imports stackeye
    assert app.get("/hello")[0] == 200
    rows = _server_and_sql(stackeye_up, service)
    kinds = {(r["SpanKind"], r["SpanAttributes"].get("http.route")) for r in rows}
    assert ("Server", "/hello") in kinds
    assert rows[0]["ResourceAttributes"]["telemetry.distro.name"] == "stackeye"
    sql = [r["SpanAttributes"]["db.statement"] for r in rows if r["SpanAttributes"].get("db.system") == "sqlite"]
    assert "INSERT OR REPLACE INTO orders VALUES (?, ?)" in sql  # Connection.execute() at import, normalized


@pytest.mark.slow
def test_stock_opentelemetry_instrument_picks_our_distro(stackeye_up, launch):
    service = f"stock-{uuid.uuid4().hex[:6]}"
    cmd = [tool("opentelemetry-instrument"), sys.executable, "shop_flask.py"]
    app = launch(cmd, "", SE_INIT="0", OTEL_SERVICE_NAME=service,
                 OTEL_EXPORTER_OTLP_ENDPOINT=f"http://{stackeye_up.otlp_grpc}")
    assert app.get("/hello")[0] == 200
    rows = _server_and_sql(stackeye_up, service)
    assert rows[0]["ResourceAttributes"]["telemetry.distro.name"] == "stackeye"
    assert any(r["SpanAttributes"].get("http.route") == "/hello" for r in rows)


@pytest.mark.slow
def test_gunicorn_prefork_workers_each_export(stackeye_up, launch, tmp_path):
    service = f"gunicorn-{uuid.uuid4().hex[:6]}"

    def cmd(port):
        return [tool("stackeye-instrument"), "--service-name", service, "--endpoint", stackeye_up.otlp_grpc,
                tool("gunicorn"), "-w", "3", "-b", f"127.0.0.1:{port}", *gunicorn_control_args(tmp_path),
                "shop_flask:app"]

    app = launch(cmd, stackeye_up.otlp_grpc, SE_INIT="0")
    pids: set[int] = set()

    def hit():
        status, body = app.get("/pid")
        assert status == 200
        pids.add(json.loads(body)["pid"])

    for _ in range(20):  # concurrent requests spread over the sync workers
        threads = [threading.Thread(target=hit) for _ in range(9)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        if len(pids) >= 3:
            break
    assert len(pids) == 3 and app.proc.pid not in pids
    q = (f"SELECT uniqExact(ResourceAttributes['process.pid']) FROM otel_traces WHERE ServiceName = '{service}' "
         "AND SpanAttributes['http.route'] = '/pid'")
    assert stackeye_up.wait_for_count(q, 3, 60) == 3
    rows = stackeye_up.sql(f"SELECT DISTINCT ResourceAttributes['process.pid'] AS pid FROM otel_traces "
                           f"WHERE ServiceName = '{service}' AND SpanAttributes['http.route'] = '/pid'")
    assert {int(r["pid"]) for r in rows} == pids
    # each worker is a replica of its own for the autoscale decisions
    q = (f"SELECT uniqExact(ResourceAttributes['service.instance.id']) FROM otel_traces WHERE ServiceName = "
         f"'{service}' AND SpanAttributes['http.route'] = '/pid'")
    assert stackeye_up.wait_for_count(q, 3, 60) == 3
    assert app.stop() == 0
