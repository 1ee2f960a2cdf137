"""KEDA's external scaler served by a real ``stackeye up --policy FILE --keda-grpc …``, fed with spans
and CPU gauges over OTLP/HTTP, called by a gRPC client built from the same proto as KEDA's: every
method answers with the autoscale policy's numbers, the same ``stackeye decide autoscale`` prints.

The autoscale policy is the test double (support/fake_policies.py: desired = ceil(current × CPU /
cpu_pct), launched through support/up_fake_policies.py) until the real one is in the registry."""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
import urllib.request

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from stackeye.proto.keda import externalscaler_pb2 as pb
from stackeye.proto.keda import externalscaler_pb2_grpc as pb_grpc
from support.decision_data import gauge, spans
from support.server import StackeyeServer
from support.services import free_port
from support.wait import wait_until

pytestmark = pytest.mark.slow

POLICY = """
[autoscale.checkout]
window = "5m"
min_replicas = 1
max_replicas = 10
cpu_pct = 60
"""
LAUNCHER = [os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support", "up_fake_policies.py")]
REPLICAS = ("checkout-a", "checkout-b", "checkout-c")  # 3 replicas at 90 % CPU, target 60 % → 5 (HPA's case)


@pytest.fixture(scope="module")
def scaler(tmp_path_factory):
    root = tmp_path_factory.mktemp("keda")
    policy = root / "policies.toml"
    policy.write_text(POLICY)
    port = free_port()
    server = StackeyeServer(str(root / "data"), ["--policy", str(policy), "--keda-grpc", f"127.0.0.1:{port}",
                                                 "--keda-recheck-s", "1s", "--decide-interval", "2s"],
                            launcher=LAUNCHER).start()
    _feed(server)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield pb_grpc.ExternalScalerStub(channel), server
    finally:
        channel.close()
        server.stop()


def _post(server: StackeyeServer, request) -> None:
    path = "/v1/traces" if isinstance(request, ExportTraceServiceRequest) else "/v1/metrics"
    req = urllib.request.Request(server.otlp_http_url + path, data=request.SerializeToString(), method="POST",
                                 headers={"Content-Type": "application/x-protobuf"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200


def _feed(server: StackeyeServer) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    start = now - dt.timedelta(seconds=60)
    for replica in REPLICAS:
        _post(server, spans("checkout", replica, start, [20.0] * 100, host=replica, step_s=0.5))
        _post(server, gauge("checkout", replica, "process.cpu.utilization",
                            [(start + dt.timedelta(seconds=10 * i), 0.9) for i in range(6)], host=replica))
    server.wait_for_count("SELECT count() FROM otel_traces WHERE ServiceName = 'checkout'", 300)


def ref(service: str = "checkout") -> pb.ScaledObjectRef:
    return pb.ScaledObjectRef(name="checkout", namespace="shop",
                              scalerMetadata={"scalerAddress": "stackeye:9090", "service": service})


def decide_autoscale(server: StackeyeServer, service: str = "checkout") -> dict:
    out = subprocess.run([sys.executable, "-m", "stackeye.cli.main", "decide", "autoscale", "--service", service,
                          "--format", "json", "--url", server.http_url], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    (row,) = json.loads(out.stdout)
    return row


def test_get_metrics_is_the_desired_replicas_of_decide_autoscale(scaler):
    stub, server = scaler
    spec = stub.GetMetricSpec(ref()).metricSpecs
    assert [(s.metricName, s.targetSize, s.targetSizeFloat) for s in spec] == \
        [("stackeye-checkout-desired-replicas", 1, 1.0)]

    def both():
        cli = decide_autoscale(server)
        value = stub.GetMetrics(pb.GetMetricsRequest(scaledObjectRef=ref(), metricName=spec[0].metricName))
        return (cli, value.metricValues) if cli["current_replicas"] == 3 else None

    cli, values = wait_until(both, timeout=60, interval=0.5, message=lambda: f"3 live replicas\n{server.log_tail()}")
    assert (cli["current_replicas"], cli["desired_replicas"]) == (3, 5)
    assert [(v.metricName, v.metricValue, v.metricValueFloat) for v in values] == \
        [("stackeye-checkout-desired-replicas", cli["desired_replicas"], float(cli["desired_replicas"]))]
    # KEDA's HPA (AverageValue): ceil(current × (value / current) / target) = the decision
    assert math.ceil(3 * (values[0].metricValueFloat / 3) / spec[0].targetSizeFloat) == cli["desired_replicas"]


def test_is_active_and_stream_is_active_say_desired_is_above_zero(scaler):
    stub, _ = scaler
    assert stub.IsActive(ref()).result is True
    stream = stub.StreamIsActive(ref(), timeout=30)
    assert next(stream).result is True  # sent at once when the call opens
    stream.cancel()


def test_a_service_without_a_policy_is_not_found(scaler):
    stub, _ = scaler
    for call in (lambda: stub.IsActive(ref("payments")), lambda: stub.GetMetricSpec(ref("payments")),
                 lambda: next(stub.StreamIsActive(ref("payments"), timeout=30)),
                 lambda: stub.GetMetrics(pb.GetMetricsRequest(scaledObjectRef=ref("payments"), metricName="m"))):
        with pytest.raises(grpc.RpcError) as err:
            call()
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert "[autoscale.payments]" in err.value.details() and "policies.toml" in err.value.details()


def test_metadata_without_a_service_is_an_invalid_argument(scaler):
    stub, _ = scaler
    with pytest.raises(grpc.RpcError) as err:
        stub.IsActive(pb.ScaledObjectRef(name="checkout", namespace="shop", scalerMetadata={"scalerAddress": "x"}))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_policy_put_through_the_api_is_answered_at_once(scaler):
    """PUT /api/v1/policies adds [autoscale.search] (no traffic, min_replicas 0): KEDA's next call
    gets its decision — the same as decide autoscale's, inactive when that is 0 replicas."""
    stub, server = scaler
    status, body = server.request("GET", "/api/v1/policies")
    doc = json.loads(body)["policies"]
    doc["autoscale"]["search"] = {"window": "5m", "min_replicas": 0, "max_replicas": 4, "cpu_pct": 60}
    status, body = server.request("PUT", "/api/v1/policies", doc)
    assert status == 200, body
    cli = decide_autoscale(server, "search")
    values = stub.GetMetrics(pb.GetMetricsRequest(scaledObjectRef=ref("search"), metricName="m")).metricValues
    assert [(v.metricName, v.metricValue) for v in values] == [("m", cli["desired_replicas"])]
    assert stub.IsActive(ref("search")).result is (cli["desired_replicas"] > 0)


def test_keda_grpc_without_a_policy_file_exits_2(tmp_path):
    out = subprocess.run([sys.executable, *LAUNCHER, "up", "--data-dir", str(tmp_path / "data"),
                          "--keda-grpc", f"127.0.0.1:{free_port()}"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "keda_grpc" in out.stderr and "--policy FILE" in out.stderr
