"""Per-tenant rate limits on a running ``stackeye up``: within the limit nothing is dropped; over it
the sender is told when to come back (gRPC RetryInfo, HTTP Retry-After) and its retry goes in."""
from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from support.otlp_builders import spans_request
from support.server import StackeyeServer

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    server = StackeyeServer(str(tmp_path_factory.mktemp("rate-limited") / "data"), [
        "--token", "tok-a=team-a", "--token", "tok-b=team-b", "--token", "tok-c=team-c",
        "--tenant-limit", "team-a=100", "--tenant-limit", "team-b=10", "--tenant-limit", "team-c=0",
        "--tenant-max-items-per-s", "1000", "--ingest-burst-s", "2s",
    ]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def export(limited):
    channel = grpc.insecure_channel(limited.otlp_grpc)
    call = channel.unary_unary(TRACE_EXPORT, request_serializer=None, response_deserializer=None)
    yield lambda payload, token: call(payload, metadata=(("authorization", f"Bearer {token}"),), timeout=10)
    channel.close()


def retry_delay_s(err: grpc.RpcError) -> float:
    """What an OTLP exporter reads: the RetryInfo in grpc-status-details-bin."""
    status = rpc_status.from_call(err)
    assert status is not None, "no grpc-status-details-bin in the trailers"
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info.retry_delay.ToNanoseconds() / 1e9
    raise AssertionError(f"no RetryInfo in {status}")


def metric(server, name: str, **labels) -> float:
    status, body = server.request("GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def count(server, service: str, expected: int) -> int:
    return server.wait_for_count(f"SELECT count() FROM otel_traces WHERE ServiceName = '{service}'", expected)


def test_within_the_limit_nothing_is_dropped_over_it_retry_info_then_the_retry_goes_in(limited, export):
    service = "rl-" + uuid.uuid4().hex[:6]
    for _ in range(4):  # 200 spans: team-a's whole burst (100/s for 2 s)
        export(spans_request(service, 50).SerializeToString(), "tok-a")
    over = spans_request(service, 50).SerializeToString()
    with pytest.raises(grpc.RpcError) as err:
        export(over, "tok-a")
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "tenant 'team-a' is over its ingest rate" in err.value.details()
    delay = retry_delay_s(err.value)
    assert 0 < delay <= 0.5  # 50 spans at 100/s, minus what refilled meanwhile
    assert metric(limited, "stackeye_rate_limited_items_total", tenant="team-a", signal="traces") == 50
    assert limited.health()["rejected"]["rate_limited"] >= 1
    time.sleep(delay)
    export(over, "tok-a")  # the SDK's retry after retry_delay is accepted
    assert count(limited, service, 250) == 250


def test_a_request_larger_than_the_burst_is_refused_without_retry_info(limited, export):
    with pytest.raises(grpc.RpcError) as err:
        export(spans_request("rl-big", 21).SerializeToString(), "tok-b")  # team-b: 10/s, 20 at once
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "send smaller batches" in err.value.details()
    assert rpc_status.from_call(err.value) is None  # no RetryInfo: the exporter does not retry it forever
    assert limited.health()["rejected"]["larger_than_burst"] >= 1


def test_otlp_http_answers_429_with_retry_after_and_a_status_body(limited):
    service = "rl-http-" + uuid.uuid4().hex[:6]

    def post(n: int):
        req = urllib.request.Request(limited.otlp_http_url + "/v1/traces", spans_request(service, n).SerializeToString(),
                                     {"Content-Type": "application/x-protobuf", "Authorization": "Bearer tok-b"})
        return urllib.request.urlopen(req, timeout=10)

    post(20).close()  # team-b's burst
    with pytest.raises(urllib.error.HTTPError) as err:
        post(5)
    assert err.value.code == 429
    assert 1 <= int(err.value.headers["Retry-After"]) <= 1  # 0.5 s, in whole seconds rounded up
    assert err.value.headers["Content-Type"] == "application/x-protobuf"
    status = status_pb2.Status.FromString(err.value.read())
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert "tenant 'team-b' is over its ingest rate" in status.message
    time.sleep(int(err.value.headers["Retry-After"]))
    post(5).close()
    assert count(limited, service, 25) == 25


def test_an_override_of_0_is_unlimited_despite_the_default(limited, export):
    export(spans_request("rl-free", 3000).SerializeToString(), "tok-c")  # the default would hold 2000 at most
    assert count(limited, "rl-free", 3000) == 3000
