"""The core HTTP API of a running stackeye: health, SQL, Prometheus metrics, errors."""
from __future__ import annotations

import json
import uuid

import grpc
from support.otlp_builders import spans_request
from support.server import StackeyeServer


def test_health_reports_the_pipeline(stackeye_up):
    doc = stackeye_up.health()
    assert doc["status"] == "ok" and doc["version"]
    for key in ("queue_bytes", "received_items", "rows_written", "rejected", "dead_letters"):
        assert key in doc


def test_sql_returns_columns_types_rows_and_time(stackeye_up):
    status, body = stackeye_up.request("POST", "/api/v1/sql", {"query": "SELECT 1 AS one, 'x' AS s"})
    doc = json.loads(body)
    assert status == 200
    assert doc["columns"] == ["one", "s"] and doc["types"] == ["UInt8", "String"] and doc["rows"] == [[1, "x"]]
    assert doc["elapsed_ms"] >= 0


def test_sql_errors_are_400_with_clickhouse_text(stackeye_up):
    for query, text in (("SELEC 1", "Syntax error"), ("SELECT * FROM nope", "nope"),
                        ("INSERT INTO otel_traces (SpanId) VALUES ('x')", "readonly"),
                        ("SELECT number FROM numbers(1000000)", "Limit for result exceeded")):
        status, body = stackeye_up.request("POST", "/api/v1/sql", {"query": query})
        assert status == 400, query
        assert text.lower() in json.loads(body)["error"].lower(), query
    for body in ({}, {"query": ""}, {"query": 3}):
        status, resp = stackeye_up.request("POST", "/api/v1/sql", body)
        assert status == 400 and json.loads(resp)["parameter"] == "query"


def test_unknown_route_and_wrong_method(stackeye_up):
    assert stackeye_up.request("GET", "/api/v1/nope")[0] == 404
    assert stackeye_up.request("GET", "/api/v1/sql")[0] == 405


def test_prometheus_metrics_count_the_pipeline(stackeye_up):
    service = "metrics-" + uuid.uuid4().hex[:6]
    with grpc.insecure_channel(stackeye_up.otlp_grpc) as ch:
        call = ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                              request_serializer=None, response_deserializer=None)
        call(spans_request(service, 5).SerializeToString(), timeout=10)
    stackeye_up.wait_for_count(f"SELECT count() FROM otel_traces WHERE ServiceName = '{service}'", 5)
    status, body = stackeye_up.request("GET", "/metrics")
    text = body.decode()
    assert status == 200
    for name in ("stackeye_received_requests_total", "stackeye_received_items_total", "stackeye_rejected_requests_total",
                 "stackeye_queue_bytes", "stackeye_written_items_total", "stackeye_insert_seconds_bucket",
                 "stackeye_batch_items_bucket"):
        assert name in text, name
    assert 'stackeye_received_items_total{signal="traces"}' in text


def test_tokens_are_required_when_configured(tmp_path):
    server = StackeyeServer(str(tmp_path / "data"), extra_args=["--token", "s3cret=team-a"]).start()
    try:
        with grpc.insecure_channel(server.otlp_grpc) as ch:
            call = ch.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                  request_serializer=None, response_deserializer=None)
            payload = spans_request("authed", 3).SerializeToString()
            for metadata, reason in ((None, "missing credentials"), ((("authorization", "Bearer wrong"),), "not accepted")):
                try:
                    call(payload, timeout=10, metadata=metadata)
                    raise AssertionError("accepted without a valid token")
                except grpc.RpcError as err:
                    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and reason in err.details()
            call(payload, timeout=10, metadata=(("authorization", "Bearer s3cret"),))
        assert server.wait_for_count("SELECT count() FROM otel_traces WHERE ServiceName = 'authed'", 3) == 3
        assert server.health()["rejected"] == {"bad_token": 1, "unauthenticated": 1}
    finally:
        server.stop()
