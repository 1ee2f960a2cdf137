"""The KEDA external scaler servicer over a fixed ``decide``, called by a gRPC client built from the
same proto (a real server on a loopback port): each method's numbers, the HPA arithmetic that turns
them back into the decision, the error statuses and StreamIsActive's pushes."""
from __future__ import annotations

import datetime as dt
import math
import queue
import threading

import grpc
import pytest
from stackeye.decisions.keda import (ExternalScalerServicer, KedaScalerServer, UnknownService, evaluator_decide,
                                     metric_name)
from stackeye.decisions.model import AutoscaleDecision
from stackeye.decisions.policy_file import PolicyFile
from stackeye.proto.keda import externalscaler_pb2 as pb
from stackeye.proto.keda import externalscaler_pb2_grpc as pb_grpc
from support.wait import wait_until
from support import recent

NOW = recent.at(12, 0)


class HpaLikePolicy:
    """A policy-shaped ``decide``: HPA's CPU rule (desired = ceil(current × observed / target),
    min 0, max 10) over per-service (replicas, CPU %) that a test changes while the server runs."""

    def __init__(self, loads: dict[str, tuple[int, float]], target_pct: float = 60.0):
        self.loads, self.target_pct = dict(loads), target_pct
        self.calls: list[str] = []
        self.failure: Exception | None = None

    def __call__(self, service: str) -> AutoscaleDecision:
        self.calls.append(service)
        if self.failure:
            raise self.failure
        if service not in self.loads:
            raise UnknownService(f"no autoscale policy for service {service!r}: add an [autoscale.{service}] table")
        current, cpu = self.loads[service]
        desired = min(10, math.ceil(current * cpu / self.target_pct)) if current else 0
        return AutoscaleDecision(service, NOW, current, desired, "cpu", f"{current} replicas at {cpu}% CPU → {desired}")


@pytest.fixture
def policy():
    return HpaLikePolicy({"checkout": (3, 90.0), "idle": (0, 0.0)})


@pytest.fixture
def scaler(policy):
    server = KedaScalerServer(ExternalScalerServicer(policy, recheck_s=0.2), "127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    yield pb_grpc.ExternalScalerStub(channel), server
    channel.close()
    server.stop(grace=0)


def ref(service: str | None = "checkout", **metadata) -> pb.ScaledObjectRef:
    meta = {"scalerAddress": "stackeye:9090", **metadata}
    if service is not None:
        meta["service"] = service
    return pb.ScaledObjectRef(name="checkout-scaler", namespace="shop", scalerMetadata=meta)


def test_get_metrics_is_the_decision_and_the_hpa_arithmetic_gives_it_back(scaler):
    stub, _ = scaler
    spec = stub.GetMetricSpec(ref()).metricSpecs
    assert [(s.metricName, s.targetSize, s.targetSizeFloat) for s in spec] == \
        [("stackeye-checkout-desired-replicas", 1, 1.0)]
    values = stub.GetMetrics(pb.GetMetricsRequest(scaledObjectRef=ref(), metricName=spec[0].metricName)).metricValues
    assert [(v.metricName, v.metricValue, v.metricValueFloat) for v in values] == \
        [("stackeye-checkout-desired-replicas", 5, 5.0)]  # HPA's reference case: 3 × 90 / 60 → 5
    # What the HPA does with an AverageValue external metric, whatever the current count:
    for current in (1, 3, 7):
        per_pod = values[0].metricValueFloat / current
        assert math.ceil(current * per_pod / spec[0].targetSizeFloat) == 5


def test_the_metric_name_comes_from_the_metadata_when_given(scaler):
    stub, _ = scaler
    spec = stub.GetMetricSpec(ref(metricName="checkout-replicas")).metricSpecs
    assert [s.metricName for s in spec] == ["checkout-replicas"]
    assert metric_name("team/checkout api", {}) == "stackeye-team-checkout-api-desired-replicas"


def test_is_active_when_desired_is_above_zero(scaler):
    stub, _ = scaler
    assert stub.IsActive(ref()).result is True
    assert stub.IsActive(ref("idle")).result is False


def test_a_service_without_a_policy_is_not_found_with_the_fix(scaler):
    stub, _ = scaler
    for call in (lambda: stub.IsActive(ref("payments")), lambda: stub.GetMetricSpec(ref("payments")),
                 lambda: stub.GetMetrics(pb.GetMetricsRequest(scaledObjectRef=ref("payments"), metricName="m"))):
        with pytest.raises(grpc.RpcError) as err:
            call()
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert "shop/checkout-scaler" in err.value.details() and "[autoscale.payments]" in err.value.details()


def test_metadata_without_a_service_is_an_invalid_argument(scaler, policy):
    stub, _ = scaler
    with pytest.raises(grpc.RpcError) as err:
        stub.GetMetricSpec(ref(None))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "service: <service.name>" in err.value.details()
    assert policy.calls == []


def test_a_failed_evaluation_is_unavailable(scaler, policy):
    stub, _ = scaler
    policy.failure = ConnectionError("ClickHouse refused the connection")
    with pytest.raises(grpc.RpcError) as err:
        stub.GetMetrics(pb.GetMetricsRequest(scaledObjectRef=ref(), metricName="m"))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "ClickHouse refused the connection" in err.value.details()


def _collect(stream, out: queue.Queue) -> None:
    try:
        for response in stream:
            out.put(response.result)
    except grpc.RpcError as exc:
        out.put(exc.code())


def test_stream_is_active_answers_at_once_then_pushes_each_change(scaler, policy):
    stub, server = scaler
    stream = stub.StreamIsActive(ref())
    got: queue.Queue = queue.Queue()
    threading.Thread(target=_collect, args=(stream, got), daemon=True).start()
    assert got.get(timeout=10) is True
    policy.loads["checkout"] = (0, 0.0)  # scaled to zero: seen at the next re-check
    assert got.get(timeout=10) is False
    policy.loads["checkout"] = (2, 50.0)
    assert got.get(timeout=10) is True
    assert got.empty()  # unchanged answers are not repeated
    stream.cancel()
    assert got.get(timeout=10) == grpc.StatusCode.CANCELLED
    wait_until(lambda: not server.servicer._streams, timeout=10, message="the cancelled stream to end")


def test_stream_is_active_ends_with_the_server(policy):
    server = KedaScalerServer(ExternalScalerServicer(policy, recheck_s=30), "127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stream = pb_grpc.ExternalScalerStub(channel).StreamIsActive(ref())
        assert next(stream).result is True
        server.stop(grace=5)  # does not wait out the 30 s re-check
        with pytest.raises((StopIteration, grpc.RpcError)):
            next(stream)


def test_stream_is_active_reports_an_unknown_service(scaler):
    stub, _ = scaler
    with pytest.raises(grpc.RpcError) as err:
        next(stub.StreamIsActive(ref("payments")))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_busy_address_is_an_error_naming_the_flag(scaler, policy):
    _, server = scaler
    with pytest.raises(OSError, match="--keda-grpc"):
        KedaScalerServer(ExternalScalerServicer(policy), f"127.0.0.1:{server.port}")


def test_recheck_must_be_positive(policy):
    with pytest.raises(ValueError, match="recheck_s"):
        ExternalScalerServicer(policy, recheck_s=0)


class FakeEvaluator:
    """The Evaluator's surface that evaluator_decide uses: its policies and autoscale()."""

    def __init__(self, decisions, configured):
        self.decisions, self.calls = decisions, []
        self.policies = PolicyFile("/etc/stackeye/policies.toml", tables={"autoscale": {k: None for k in configured}})

    def autoscale(self, service=None, at=None, persist=True):
        self.calls.append((service, persist))
        return [d for d in self.decisions if service is None or d.service == service]


def test_evaluator_decide_reads_without_persisting():
    decision = AutoscaleDecision("checkout", NOW, 3, 5, "cpu", "3 replicas at 90% CPU → 5")
    evaluator = FakeEvaluator([decision], ["checkout"])
    assert evaluator_decide(evaluator)("checkout") is decision
    assert evaluator.calls == [("checkout", False)]


def test_evaluator_decide_answers_only_services_with_a_table():
    """The evaluator would size any service with the defaults; KEDA gets NOT_FOUND instead."""
    payments = AutoscaleDecision("payments", NOW, 1, 1, "min_replicas", "defaults")
    evaluator = FakeEvaluator([payments], ["checkout"])
    with pytest.raises(UnknownService, match=r"\[autoscale\.payments\] table to the policy file "
                                             r"/etc/stackeye/policies.toml.*with a policy: checkout"):
        evaluator_decide(evaluator)("payments")
    assert evaluator.calls == []
