"""Tenant A's keys cannot read tenant B's spans, logs or metrics through any view, `/api/v1/sql`
(direct, UNION, subqueries, joins, CTEs, `view()`, system tables, table functions, SETTINGS
overrides, multi-statement texts, INTO OUTFILE) or an operator endpoint — on a real `stackeye up`
whose rows carry the tenant of the token they came in with."""
from __future__ import annotations

import json
import time

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from support.otlp_builders import add_attrs, logs_request, spans_request
from support.server import StackeyeServer

TOKENS = {"team-a": "tok-a-1f9c", "team-b": "tok-b-77d2"}
KEYS = {"team-a": "key-a-5e21", "team-b": "key-b-0c3a"}
ADMIN_A, OPERATOR = "adm-a-9a71", "op-4c0d"
B_MARKS = ("svc-b", "gauge.b", "log line of b", "team-b")
EXPORT = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
}


def _gauge(service: str, name: str) -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    add_attrs(rm.resource.attributes, {"service.name": service})
    m = rm.scope_metrics.add().metrics.add()
    m.name = name
    p = m.gauge.data_points.add()
    p.time_unix_nano, p.as_double = time.time_ns(), 0.5
    return req


def _send(server, signal: str, payload: bytes, token: str) -> None:
    with grpc.insecure_channel(server.otlp_grpc) as ch:
        ch.unary_unary(EXPORT[signal], request_serializer=None, response_deserializer=None)(
            payload, timeout=10, metadata=(("authorization", f"Bearer {token}"),))


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    args = [a for t, tok in TOKENS.items() for a in ("--token", f"{tok}={t}")]
    args += [a for t, key in KEYS.items() for a in ("--api-key", f"{key}={t}")]
    args += ["--api-key", f"{ADMIN_A}=team-a:admin", "--api-key", f"{OPERATOR}=default:admin"]
    server = StackeyeServer(str(tmp_path_factory.mktemp("tenants") / "data"), args).start()
    server.api_key = OPERATOR
    for tenant, letter in (("team-a", "a"), ("team-b", "b")):
        token = TOKENS[tenant]
        _send(server, "traces", spans_request(f"svc-{letter}", 5, kind=2).SerializeToString(), token)
        _send(server, "logs", logs_request(f"svc-{letter}", [f"log line of {letter}"] * 3).SerializeToString(), token)
        _send(server, "metrics", _gauge(f"svc-{letter}", f"gauge.{letter}").SerializeToString(), token)
    assert server.wait_for_count("SELECT count() FROM otel_traces", 10, timeout=60) == 10
    assert server.wait_for_count("SELECT count() FROM otel_logs", 6, timeout=60) == 6
    assert server.wait_for_count("SELECT count() FROM otel_metrics_gauge", 2, timeout=60) == 2
    yield server
    server.stop()


def _call(server, method, path, key, body=None):
    status, raw = server.request(method, path, body, key=key or "")
    return status, json.loads(raw) if raw else None


def _sql(server, key, query):
    return _call(server, "POST", "/api/v1/sql", key, {"query": query})


def test_rows_carry_the_tenant_of_their_token(up):
    rows = up.sql("SELECT Tenant, ServiceName, count() AS n FROM otel_traces GROUP BY 1, 2 ORDER BY 1")
    assert rows == [{"Tenant": "team-a", "ServiceName": "svc-a", "n": 5}, {"Tenant": "team-b", "ServiceName": "svc-b", "n": 5}]
    logs = up.sql("SELECT Tenant, count() AS n FROM otel_logs GROUP BY 1 ORDER BY 1")
    assert logs == [{"Tenant": "team-a", "n": 3}, {"Tenant": "team-b", "n": 3}]
    gauges = up.sql("SELECT Tenant, MetricName FROM otel_metrics_gauge ORDER BY 1")
    assert gauges == [{"Tenant": "team-a", "MetricName": "gauge.a"}, {"Tenant": "team-b", "MetricName": "gauge.b"}]


def test_a_tenant_sees_its_own_rows_only(up):
    for key in (KEYS["team-a"], ADMIN_A):
        assert _sql(up, key, "SELECT DISTINCT ServiceName FROM otel_traces")[1]["rows"] == [["svc-a"]]
        assert _sql(up, key, "SELECT count() FROM otel_logs")[1]["rows"] == [[3]]
        assert _sql(up, key, "SELECT MetricName FROM otel_metrics_gauge")[1]["rows"] == [["gauge.a"]]
    assert _sql(up, KEYS["team-b"], "SELECT DISTINCT ServiceName FROM otel_traces")[1]["rows"] == [["svc-b"]]


# Each of these either is refused (4xx) or answers only team-a's rows.
ATTEMPTS = [
    "SELECT * FROM otel_traces",
    "SELECT * FROM default.otel_traces",
    "SELECT ServiceName FROM otel_traces UNION ALL SELECT ServiceName FROM otel_logs",
    "SELECT * FROM (SELECT ServiceName, Tenant FROM default.otel_traces)",
    "SELECT a.ServiceName, b.ServiceName FROM otel_traces a JOIN otel_logs b ON 1 = 1",
    "SELECT ServiceName FROM otel_traces WHERE TraceId IN (SELECT TraceId FROM otel_traces WHERE Tenant = 'team-b')",
    "WITH x AS (SELECT * FROM otel_traces) SELECT ServiceName, Tenant FROM x",
    "SELECT (SELECT groupArray(Body) FROM otel_logs) AS bodies",
    "SELECT * FROM view(SELECT ServiceName FROM otel_traces)",
    "SELECT * FROM otel_traces WHERE Tenant = 'team-b' OR 1 = 1",
    "SELECT ServiceName FROM stackeye_red_1m",
    "SELECT ServiceName FROM stackeye_red_1h",
    "SELECT * FROM otel_metrics_gauge",
    "SELECT * FROM stackeye_audit",
    "SELECT * FROM stackeye_schema_migrations",
    "SELECT * FROM system.processes",
    "SELECT * FROM system.tables",
    "SELECT * FROM system.parts",
    "SELECT * FROM system.columns",
    "SELECT * FROM system.errors",
    "SELECT * FROM information_schema.tables",
    "SHOW TABLES",
    "SHOW PROCESSLIST",
    "SELECT getSetting('additional_table_filters')",
    "SELECT * FROM merge(currentDatabase(), '^otel_')",
    "SELECT * FROM merge('default', 'otel_traces')",
    "SELECT * FROM mergeTreeIndex(currentDatabase(), otel_traces)",
    "SELECT * FROM remote('127.0.0.1', default.otel_traces)",
    "SELECT * FROM url('http://127.0.0.1:9/', CSV, 'a String')",
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "SELECT file('/etc/passwd')",
    "SELECT * FROM otel_traces SETTINGS additional_table_filters = {}",
    "SELECT * FROM otel_traces SETTINGS readonly = 0",
    "SET additional_table_filters = {}",
    "SELECT 1; SELECT * FROM otel_traces",
    "SELECT * FROM otel_traces INTO OUTFILE '/tmp/stackeye-tenant-leak.tsv'",
    "EXPLAIN ESTIMATE SELECT * FROM otel_traces",
    "INSERT INTO otel_traces (ServiceName, Tenant) VALUES ('svc-b', 'team-b')",
    "ALTER TABLE otel_traces DELETE WHERE Tenant = 'team-b'",
]


@pytest.mark.parametrize("query", ATTEMPTS)
def test_no_sql_reaches_another_tenants_rows(up, query):
    status, doc = _sql(up, KEYS["team-a"], query)
    if status == 200:
        text = json.dumps(doc["rows"])
        assert not any(mark in text for mark in B_MARKS), (query, text[:500])
    else:
        assert 400 <= status < 500, (status, doc)
    # and nothing was changed for team-b
    assert up.sql("SELECT count() AS n FROM otel_traces WHERE Tenant = 'team-b'") == [{"n": 5}]


def test_no_view_shows_another_tenants_rows(up):
    b_trace = up.sql("SELECT TraceId FROM otel_traces WHERE Tenant = 'team-b' LIMIT 1")[0]["TraceId"]
    status, doc = _call(up, "GET", "/api/v1/views", KEYS["team-a"])
    assert status == 200
    names = [v["name"] for v in doc["views"]]
    assert len(names) >= 14
    for name in names:
        for query in ("", "?service=svc-b", f"?trace_id={b_trace}", "?since=1d"):
            if name == "trace" and "trace_id" not in query or name == "callstack" and "service" not in query:
                continue
            status, doc = _call(up, "GET", f"/api/v1/views/{name}{query}", KEYS["team-a"])
            assert status in (200, 400), (name, query, status, doc)
            if status == 200:
                text = json.dumps(doc["rows"])
                assert not any(mark in text for mark in B_MARKS) and b_trace not in text, (name, query, text[:300])
    # the same views do show team-a its own service
    status, doc = _call(up, "GET", "/api/v1/views/services?since=1d", KEYS["team-a"])
    assert status == 200 and "svc-a" in json.dumps(doc["rows"])


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/api/v1/events", None), ("GET", "/api/v1/triggers", None), ("PUT", "/api/v1/triggers", {"rules": ""}),
    ("GET", "/api/v1/issues", None), ("GET", "/api/v1/decisions/history", None), ("GET", "/api/v1/policies", None),
    ("POST", "/api/v1/decisions/routing/drain", {"upstream": "x", "instance": "y"}), ("GET", "/metrics", None),
])
def test_an_admin_of_a_cannot_act_on_what_spans_every_tenant(up, method, path, body):
    status, doc = _call(up, method, path, ADMIN_A, body) if path != "/metrics" else (
        up.request(method, path, key=ADMIN_A)[0], None)
    assert status == 403, (method, path, status, doc)
    assert _call(up, method, path, KEYS["team-a"], body)[0] in (403,) if path != "/metrics" else True


@pytest.mark.parametrize("key", [None, "wrong-key", TOKENS["team-a"]])
def test_queries_without_a_valid_api_key_are_refused(up, key):
    assert _sql(up, key, "SELECT 1")[0] == 401
    assert _call(up, "GET", "/api/v1/views/services", key)[0] == 401
    assert up.request("GET", "/api/v1/health", key="")[0] == 200  # liveness stays open


def test_the_cli_sends_its_key_and_sees_its_tenants_rows(up):
    import subprocess
    import sys
    cmd = [sys.executable, "-m", "stackeye.cli.main", "sql", "--url", up.http_url, "--format", "json"]
    mine = subprocess.run(cmd + ["--key", KEYS["team-a"], "SELECT DISTINCT ServiceName FROM otel_traces"],
                          capture_output=True, text=True, timeout=60)
    assert mine.returncode == 0 and json.loads(mine.stdout) == [{"ServiceName": "svc-a"}], mine.stderr
    none = subprocess.run(cmd + ["SELECT 1"], capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in __import__("os").environ.items() if k != "STACKEYE_API_KEY"})
    assert none.returncode == 1 and "missing credentials" in none.stderr


@pytest.mark.parametrize("query", ["SELECT file('/etc/passwd')", "SELECT 1 INTO OUTFILE '/tmp/stackeye-op.out'",
                                   "SELECT * FROM merge(currentDatabase(), '^otel_')"])
def test_the_operators_sql_is_judged_too(up, query):
    status, doc = _sql(up, OPERATOR, query)
    assert status == 400 and doc["code"] == 497, doc
