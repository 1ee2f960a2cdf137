"""Hostile stackeye.agent.v1 requests at the collector's AgentService: an answer or a clean, counted
INVALID_ARGUMENT/UNAUTHENTICATED, never another exception; what was accepted lands in
``stackeye_agents`` and hostile strings (quotes, backslashes, NUL, emoji, 1 MB labels) read back
exactly. 100,000 mutated requests in-process (the servicer as grpc calls it), a smaller run of raw
bytes over real gRPC against a running ``stackeye up``."""
from __future__ import annotations

import random
import types

import grpc
import pytest
from google.protobuf.message import DecodeError
from stackeye.collector.ingest.agent_service import MAX_AGENT_ID_BYTES, AgentService, sql_string
from stackeye.collector.ingest.receiver import TENANT_HEADER, Authenticator, Receiver
from stackeye.collector.queue.spool import Spool
from stackeye.collector.telemetry import PipelineMetrics
from stackeye.proto.agent.v1 import agent_pb2
from support.agent_requests import HOSTILE_STRINGS, MEGABYTE_LABEL, RPCS, Aborted, CallContext, requests, seeds
from support.mutate import mutations

# SetConfig writes at once (an operator's change is stored before it is acknowledged): fewer of them
INPUTS = {"Register": 35_000, "Heartbeat": 35_000, "GetConfig": 28_000, "SetConfig": 2_000}
FLUSH_EVERY = 5_000  # the service's flush loop, driven by the test: 20 INSERTs for the run
OVER_GRPC = 2_000
TENANT = "fuzz"


def refused(metrics: PipelineMetrics, rpc: str | None = None, reason: str | None = None) -> float:
    return sum(s.value for m in metrics.refused_agent_requests.collect() for s in m.samples
               if s.name.endswith("_total") and rpc in (None, s.labels["rpc"]) and reason in (None, s.labels["reason"]))


class Service:
    """An AgentService on a chDB storage, called in-process; ``tokens`` turn ingest auth on."""

    def __init__(self, storage, spool_dir: str, tokens: tuple[str, ...] = ()):
        self.storage, self.metrics = storage, PipelineMetrics()
        self.spool = Spool(spool_dir, fsync=False, max_bytes=1 << 30)
        receiver = Receiver(self.spool, self.metrics, auth=Authenticator(tokens))
        self.svc = AgentService(types.SimpleNamespace(storage=storage, receiver=receiver, metrics=self.metrics))

    def call(self, rpc: str, request, metadata: dict | None = None):
        return getattr(self.svc, rpc)(request, CallContext({TENANT_HEADER: TENANT} if metadata is None else metadata))

    def rows(self, tenant: str = TENANT) -> dict[str, tuple]:
        res = self.storage.query("SELECT AgentId, HostName, HostId, OsType, Version, Collectors, Labels, Stats "
                                 f"FROM stackeye_agents FINAL WHERE Tenant = {sql_string(tenant)}")
        return {r[0]: tuple(r[1:]) for r in res.rows}


@pytest.fixture
def service(chdb_storage, tmp_path):
    s = Service(chdb_storage(), str(tmp_path / "spool"))
    yield s
    s.spool.close()


def test_100k_mutated_requests_answer_or_are_refused_cleanly(service):
    streams = {rpc: requests(rpc, n, seed=40 + i) for i, (rpc, n) in enumerate(INPUTS.items())}
    order = [rpc for rpc, n in INPUTS.items() for _ in range(n)]
    random.Random(4).shuffle(order)  # interleaved, so heartbeats and config reads meet registered agents
    answered = {rpc: 0 for rpc in RPCS}
    undecodable = aborted = 0
    registered: set[str] = set()
    for i, rpc in enumerate(order, 1):
        request_type, response_type = RPCS[rpc]
        try:
            request = request_type.FromString(next(streams[rpc]))
        except DecodeError:  # grpc refuses it before the servicer runs
            undecodable += 1
            continue
        try:
            response = service.call(rpc, request)
        except Aborted as err:
            assert err.code is grpc.StatusCode.INVALID_ARGUMENT and err.details, err
            aborted += 1
            continue
        assert isinstance(response, response_type)
        answered[rpc] += 1
        if rpc == "Register":
            registered.add(request.agent_id)
        if i % FLUSH_EVERY == 0:
            service.svc.flush()
    service.svc.flush()
    assert sum(answered.values()) + undecodable + aborted == sum(INPUTS.values())
    assert all(n > 100 for n in answered.values()), answered
    assert undecodable > 1000 and aborted > 100, (undecodable, aborted)
    assert refused(service.metrics) == aborted
    # every registration reached the table, under its own id, however mangled
    assert set(service.rows()) >= registered


def hostile_register(agent_id: str) -> agent_pb2.RegisterRequest:
    labels = {s: s for s in HOSTILE_STRINGS}
    labels["big"], labels[MEGABYTE_LABEL[:1000]] = MEGABYTE_LABEL, "key of 1000 characters"
    return agent_pb2.RegisterRequest(agent_id=agent_id, host_name="".join(HOSTILE_STRINGS), host_id=MEGABYTE_LABEL,
                                     os_type="\\'\x00", version="😀", collectors=list(HOSTILE_STRINGS), labels=labels)


@pytest.mark.parametrize("tenant", [TENANT, "t'\\\x00😀"], ids=["plain-tenant", "hostile-tenant"])
def test_hostile_strings_round_trip_exactly(service, tenant):
    ids = [s + "-id" for s in HOSTILE_STRINGS] + ["x" * MAX_AGENT_ID_BYTES]
    md = {TENANT_HEADER: tenant}
    for agent_id in ids:
        service.call("Register", hostile_register(agent_id), md)
        service.call("Heartbeat", agent_pb2.HeartbeatRequest(agent_id=agent_id, stats={s: 1.5 for s in HOSTILE_STRINGS}), md)
    service.call("SetConfig", agent_pb2.SetConfigRequest(agent_id=ids[0], interval_seconds=2.5,
                                                         enabled_collectors=list(HOSTILE_STRINGS)), md)
    service.svc.flush()
    rows = service.rows(tenant)
    assert set(rows) == set(ids)
    want = hostile_register("")
    for agent_id in ids:
        host, host_id, os_type, version, collectors, labels, stats = rows[agent_id]
        assert (host, host_id, os_type, version) == (want.host_name, want.host_id, want.os_type, want.version)
        assert list(collectors) == list(want.collectors)
        assert dict(labels) == dict(want.labels)
        assert dict(stats) == {s: 1.5 for s in HOSTILE_STRINGS}
    # a collector started later reads them from the tables, not from the first one's cache
    fresh = Service(service.storage, service.spool.dir + "-2")
    try:
        config = fresh.call("GetConfig", agent_pb2.GetConfigRequest(agent_id=ids[0]), md)
        assert list(config.enabled_collectors) == list(HOSTILE_STRINGS) and config.interval_seconds == 2.5
        assert fresh.call("Heartbeat", agent_pb2.HeartbeatRequest(agent_id=ids[-1]), md).reregister is False
        assert fresh.call("Heartbeat", agent_pb2.HeartbeatRequest(agent_id="never-registered"), md).reregister is True
    finally:
        fresh.spool.close()
    assert service.rows("someone-else") == {}  # the tenant scopes them


def test_refused_requests_are_counted_by_reason(chdb_storage, tmp_path):
    service = Service(chdb_storage(), str(tmp_path / "spool"), tokens=("secret=acme",))
    ok = {"authorization": "Bearer secret"}
    cases = [("Register", agent_pb2.RegisterRequest(), ok, "missing_agent_id"),
             ("Heartbeat", agent_pb2.HeartbeatRequest(agent_id="x" * (MAX_AGENT_ID_BYTES + 1)), ok, "agent_id_too_long"),
             ("SetConfig", agent_pb2.SetConfigRequest(interval_seconds=float("nan")), ok, "bad_interval"),
             ("SetConfig", agent_pb2.SetConfigRequest(interval_seconds=0.5), ok, "bad_interval"),
             ("GetConfig", agent_pb2.GetConfigRequest(agent_id="a"), {}, None),
             ("GetConfig", agent_pb2.GetConfigRequest(agent_id="a"), {"authorization": "Bearer wrong"}, None)]
    try:
        for rpc, request, metadata, reason in cases:
            with pytest.raises(Aborted) as err:
                service.call(rpc, request, metadata)
            assert err.value.details
            if reason is None:
                assert err.value.code is grpc.StatusCode.UNAUTHENTICATED
            else:
                assert err.value.code is grpc.StatusCode.INVALID_ARGUMENT and refused(service.metrics, rpc, reason) >= 1
        assert refused(service.metrics, "SetConfig", "bad_interval") == 2
        assert refused(service.metrics, "GetConfig") == 2  # the auth reasons, as OTLP ingest names them
        assert refused(service.metrics) == len(cases)
        assert service.call("GetConfig", agent_pb2.GetConfigRequest(agent_id="a"), ok) == agent_pb2.AgentConfig()
        assert b"stackeye_agent_refused_requests_total" in service.metrics.prometheus_text()
    finally:
        service.spool.close()


@pytest.mark.slow
def test_mutated_bytes_over_grpc_leave_the_server_answering(stackeye_up):
    channel = grpc.insecure_channel(stackeye_up.otlp_grpc)
    calls = {rpc: channel.unary_unary(f"/stackeye.agent.v1.AgentService/{rpc}") for rpc in RPCS}  # raw bytes both ways
    codes: dict[str, int] = {}
    try:
        for i, rpc in enumerate(RPCS):
            for payload in mutations(seeds(rpc), OVER_GRPC // len(RPCS), seed=90 + i):
                try:
                    RPCS[rpc][1].FromString(calls[rpc](payload, timeout=10))
                    codes["OK"] = codes.get("OK", 0) + 1
                except grpc.RpcError as err:
                    # INTERNAL is grpc's own answer to bytes that do not parse as the request
                    assert err.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.INTERNAL), err
                    codes[err.code().name] = codes.get(err.code().name, 0) + 1
        assert codes.get("OK", 0) > 100 and codes.get("INTERNAL", 0) > 100, codes
        agent_id = "grpc-" + "".join(HOSTILE_STRINGS)
        calls["Register"](hostile_register(agent_id).SerializeToString(), timeout=30)
    finally:
        channel.close()
    q = f"SELECT count() AS n FROM stackeye_agents WHERE AgentId = {sql_string(agent_id)}"
    assert stackeye_up.wait_for_count(q, 1, 30) == 1
    (row,) = stackeye_up.sql(f"SELECT HostId, Labels, Collectors FROM stackeye_agents FINAL WHERE AgentId = {sql_string(agent_id)}")
    want = hostile_register(agent_id)
    assert row["HostId"] == MEGABYTE_LABEL and row["Labels"] == dict(want.labels)
    assert row["Collectors"] == list(want.collectors)
    status, metrics = stackeye_up.request("GET", "/metrics")
    assert status == 200 and b"stackeye_agent_refused_requests_total" in metrics
