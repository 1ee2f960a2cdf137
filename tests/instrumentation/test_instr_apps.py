"""Real Flask and FastAPI apps -> stackeye.instrumentation -> OTLP/gRPC -> `stackeye up` -> SQL.

Each app serves /orders/<id> (sqlite3 incl. the Connection.execute shortcut, PostgreSQL, Redis and
an outbound HTTP call to a local server) and /boom (an exception), driven by a real HTTP client.
"""
from __future__ import annotations

import json
import os
import sys
import uuid

import pytest
from support.services import require_service

APPS = os.path.join(os.path.dirname(__file__), "apps")
FRAMEWORKS = {
    "flask": ("shop_flask.py", "/orders/<int:order_id>"),
    "fastapi": ("shop_fastapi.py", "/orders/{order_id}"),
}


def spans_of(server, service: str) -> list[dict]:
    return server.sql(
        "SELECT TraceId, SpanId, ParentSpanId, SpanName, SpanKind, StatusCode, SpanAttributes, "
        "`Events.Name` AS EventNames, `Events.Attributes` AS EventAttrs, ResourceAttributes "
        f"FROM otel_traces WHERE ServiceName = '{service}'")


@pytest.fixture(autouse=True)
def _services():
    require_service("PostgreSQL", "127.0.0.1", 5432, "./scripts/services-up")
    require_service("Redis", "127.0.0.1", 6379, "./scripts/services-up")


@pytest.mark.slow
@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_app_spans_reach_stackeye(framework, stackeye_up, launch, downstream):
    script, route = FRAMEWORKS[framework]
    service = f"shop-{framework}-{uuid.uuid4().hex[:6]}"
    app = launch([sys.executable, os.path.join(APPS, script)], stackeye_up.otlp_grpc, service)
    assert app.get("/hello")[0] == 200
    status, body = app.get("/orders/1")
    assert status == 200 and json.loads(body) == {"item": "book", "downstream": 200}
    assert app.get("/boom")[0] == 500
    # 3 server spans + 2 sqlite + 1 postgres + 1 redis + 1 http client
    n = stackeye_up.wait_for_count(f"SELECT count() FROM otel_traces WHERE ServiceName = '{service}'", 8, 60)
    assert n >= 8, app.log()
    q = f"SELECT count() FROM otel_traces WHERE ServiceName = '{service}' AND SpanKind = 'Server'"
    assert stackeye_up.wait_for_count(q, 3, 60) == 3
    spans = spans_of(stackeye_up, service)

    server = [s for s in spans if s["SpanKind"] == "Server" and s["SpanAttributes"].get("http.route") == route]
    assert len(server) == 1, [(s["SpanName"], s["SpanKind"], s["SpanAttributes"]) for s in spans]
    root = server[0]
    assert root["ParentSpanId"] == ""
    assert root["SpanName"] == f"GET {route}"
    assert root["SpanAttributes"]["http.response.status_code"] == "200"
    assert root["SpanAttributes"]["http.request.method"] == "GET"
    assert root["ResourceAttributes"]["service.name"] == service
    for key in ("host.name", "process.pid", "telemetry.sdk.version", "telemetry.distro.name"):
        assert key in root["ResourceAttributes"], key

    children = [s for s in spans if s["TraceId"] == root["TraceId"] and s["SpanId"] != root["SpanId"]]
    assert all(c["ParentSpanId"] == root["SpanId"] for c in children), children
    assert all(c["SpanKind"] == "Client" for c in children), [(c["SpanName"], c["SpanKind"]) for c in children]
    by_system: dict[str, list[dict]] = {}
    for c in children:
        by_system.setdefault(c["SpanAttributes"].get("db.system", "http"), []).append(c["SpanAttributes"])

    sqlite = sorted(a["db.statement"] for a in by_system["sqlite"])
    assert sqlite == ["SELECT count(*) FROM orders WHERE id IN (?)",
                      "SELECT item FROM orders WHERE id = ? AND item != ?"]
    assert all(a["db.query.text"] == a["db.statement"] and a["db.name"] == "shop.db" for a in by_system["sqlite"])

    (pg,) = by_system["postgresql"]
    assert pg["db.statement"] == pg["db.query.text"] == "SELECT ?::int + ?, ?"
    assert (pg["db.name"], pg["server.address"], pg["server.port"]) == ("test", "127.0.0.1", "5432")

    (rd,) = by_system["redis"]
    assert (rd["server.address"], rd["server.port"]) == ("127.0.0.1", "6379")
    assert rd["db.statement"].startswith("SET ?")

    (out,) = by_system["http"]
    host, port = downstream.split("//")[1].split(":")
    assert (out["server.address"], out["server.port"]) == (host, port)
    assert out["http.response.status_code"] == "200"

    boom = [s for s in spans if s["SpanKind"] == "Server" and s["SpanAttributes"].get("http.route") == "/boom"]
    assert len(boom) == 1
    assert boom[0]["StatusCode"] == "Error"
    assert boom[0]["SpanAttributes"]["http.response.status_code"] == "500"
    names = boom[0]["EventNames"]
    assert "exception" in names
    event = boom[0]["EventAttrs"][names.index("exception")]
    assert event["exception.type"].endswith("RuntimeError") and "checkout exploded" in event["exception.stacktrace"]

    # log records are exported as OTLP logs, within the request's trace
    logs_q = f"SELECT count() FROM otel_logs WHERE ServiceName = '{service}' AND Body = 'order 1 placed'"
    assert stackeye_up.wait_for_count(logs_q, 1, 30) >= 1
    rows = stackeye_up.sql(f"SELECT TraceId, SpanId FROM otel_logs WHERE ServiceName = '{service}' "
                           "AND Body = 'order 1 placed'")
    assert rows[0]["TraceId"] == root["TraceId"]
    if framework == "flask":  # and the trace id is injected into the app's own log records
        assert f"WARNING trace={root['TraceId']} order 1 placed" in app.log()

    assert app.stop() == 0 or framework == "flask"  # werkzeug exits 1 on Ctrl-C... after atexit ran
    if framework == "fastapi":  # business metric, flushed at exit
        q = (f"SELECT count() FROM otel_metrics_sum WHERE ServiceName = '{service}' "
             "AND MetricName = 'orders_placed' AND Attributes['plan'] = 'pro' AND Value = 1")
        assert stackeye_up.wait_for_count(q, 1, 30) >= 1, app.log()
