"""Bad requests get a clear gRPC/HTTP error, are counted, and nothing else is affected."""
from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
import uuid

import grpc
import pytest
from support.otlp_builders import spans_request

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@pytest.fixture
def export(stackeye_up):
    channel = grpc.insecure_channel(stackeye_up.otlp_grpc, options=[("grpc.max_send_message_length", 64 << 20)])
    call = channel.unary_unary(TRACE_EXPORT, request_serializer=None, response_deserializer=None)
    yield call
    channel.close()


def rejected(server) -> dict:
    return server.health()["rejected"]


def test_malformed_protobuf_is_invalid_argument(stackeye_up, export):
    before = rejected(stackeye_up).get("malformed", 0)
    with pytest.raises(grpc.RpcError) as err:
        export(b"\x0a\xff\xff\xff\xff\x0f garbage", timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "malformed ExportTraceServiceRequest" in err.value.details()
    assert rejected(stackeye_up)["malformed"] == before + 1


def test_oversized_request_is_resource_exhausted_with_the_limit(stackeye_up, export):
    before = rejected(stackeye_up).get("too_large", 0)
    with pytest.raises(grpc.RpcError) as err:
        export(b"\x00" * (17 << 20), timeout=30)  # default limit: 16 MiB
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "over the limit of 16777216 bytes" in err.value.details()
    assert rejected(stackeye_up)["too_large"] == before + 1


def test_empty_request_is_ok_and_writes_nothing(stackeye_up, export):
    assert export(b"", timeout=10) == b""


def test_server_keeps_serving_after_bad_requests(stackeye_up, export):
    for bad in (b"\xff", b"\x0a\x02\x0a"):
        with pytest.raises(grpc.RpcError):
            export(bad, timeout=10)
    service = "after-errors-" + uuid.uuid4().hex[:6]
    export(spans_request(service, 25).SerializeToString(), timeout=10)
    assert stackeye_up.wait_for_count(f"SELECT count() FROM otel_traces WHERE ServiceName = '{service}'", 25) == 25


def test_gzip_compressed_grpc_request(stackeye_up):
    service = "gzip-" + uuid.uuid4().hex[:6]
    with grpc.insecure_channel(stackeye_up.otlp_grpc, compression=grpc.Compression.Gzip) as channel:
        call = channel.unary_unary(TRACE_EXPORT, request_serializer=None, response_deserializer=None)
        call(spans_request(service, 10).SerializeToString(), timeout=10)
    assert stackeye_up.wait_for_count(f"SELECT count() FROM otel_traces WHERE ServiceName = '{service}'", 10) == 10


def _post(url: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_otlp_http_protobuf_plain_and_gzip(stackeye_up):
    service = "http-" + uuid.uuid4().hex[:6]
    body = spans_request(service, 7).SerializeToString()
    headers = {"Content-Type": "application/x-protobuf"}
    assert _post(stackeye_up.otlp_http_url + "/v1/traces", body, headers)[0] == 200
    gz = dict(headers, **{"Content-Encoding": "gzip"})
    assert _post(stackeye_up.otlp_http_url + "/v1/traces", gzip.compress(body), gz)[0] == 200
    assert stackeye_up.wait_for_count(f"SELECT count() FROM otel_traces WHERE ServiceName = '{service}'", 14) == 14


def test_otlp_http_errors_say_what_is_wrong(stackeye_up):
    url = stackeye_up.otlp_http_url + "/v1/traces"
    status, body = _post(url, b"\xff\xff", {"Content-Type": "application/x-protobuf"})
    assert status == 400 and "malformed" in json.loads(body)["error"]
    status, body = _post(url, b"{}", {"Content-Type": "application/json"})
    assert status == 415 and "application/x-protobuf" in json.loads(body)["error"]
    status, body = _post(url, b"not gzip", {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
    assert status == 400 and "gzip" in json.loads(body)["error"]


def test_a_retried_batch_id_is_stored_once(stackeye_up, export):
    service = "retry-" + uuid.uuid4().hex[:6]
    payload = spans_request(service, 4).SerializeToString()
    meta = (("stackeye-batch-id", f"agent-1-{service}"),)
    duplicates = stackeye_up.health()["duplicates"]
    for _ in range(3):  # the sender lost our answer twice and retried with the same id
        export(payload, timeout=10, metadata=meta)
    export(payload, timeout=10, metadata=(("stackeye-batch-id", f"agent-1-{service}-other"),))
    assert stackeye_up.wait_for_count(f"SELECT count() FROM otel_traces WHERE ServiceName = '{service}'", 8) == 8
    assert stackeye_up.health()["duplicates"] == duplicates + 2  # acknowledged, not queued again
