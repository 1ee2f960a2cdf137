"""Hostile OTLP requests at Receiver.accept: accepted (and queued) or a clean, counted IngestError;
never another exception, never a hang. 100,000 mutated requests per signal, plus the hostile
classes built on purpose (deep nesting, invalid UTF-8, NaN, extreme timestamps, huge values)."""
from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.common.v1 import common_pb2
from stackeye.collector.ingest.receiver import AGENT_ID_HEADER, TENANT_HEADER, IngestError, Receiver
from stackeye.collector.queue.spool import Spool
from stackeye.collector.telemetry import PipelineMetrics
from stackeye.core.signals import Signal
from support import hostile_otlp
from support.mutate import mutations

INPUTS_PER_SIGNAL = 100_000
HANG_S = 5.0  # a hang detector, not a speed check (bench/fuzz.py measures speed)


class Outcomes:
    def __init__(self, receiver: Receiver):
        self.receiver, self.accepted, self.refused, self.items = receiver, 0, 0, 0

    def send(self, signal: Signal, payload: bytes, metadata: dict | None = None) -> None:
        started = time.perf_counter()
        try:
            self.items += self.receiver.accept(signal, payload, metadata or {}, "fuzz")
            self.accepted += 1
        except IngestError as err:
            assert err.status in ("INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"), (err.status, err.message)
            assert err.message
            self.refused += 1
        elapsed = time.perf_counter() - started
        assert elapsed < HANG_S, f"{signal.name} input of {len(payload)} bytes took {elapsed:.1f}s: {payload[:64]!r}"


@pytest.fixture
def receiver(tmp_path):
    spool = Spool(str(tmp_path / "spool"), fsync=False, max_bytes=1 << 40)
    yield Receiver(spool, PipelineMetrics())
    spool.close()


def rejected(receiver: Receiver, signal: Signal) -> float:
    return sum(s.value for m in receiver.metrics.rejected_requests.collect() for s in m.samples
               if s.name.endswith("_total") and s.labels["signal"] == signal.name.lower())


@pytest.mark.parametrize("signal", list(Signal), ids=lambda s: s.name.lower())
def test_100k_mutated_requests_are_queued_or_refused_cleanly(receiver, signal):
    out = Outcomes(receiver)
    seeds = hostile_otlp.SEEDS[signal]()
    for payload in mutations(seeds, INPUTS_PER_SIGNAL, seed=int(signal)):
        out.send(signal, payload)
    assert out.accepted + out.refused == INPUTS_PER_SIGNAL
    # both outcomes are reached, and every refusal is counted
    assert out.accepted > 1000 and out.refused > 1000, (out.accepted, out.refused)
    assert rejected(receiver, signal) == out.refused
    assert receiver.metrics.total(receiver.metrics.received_requests) == out.accepted


def test_nesting_deeper_than_protobuf_allows_is_refused_as_malformed(receiver):
    out = Outcomes(receiver)
    for depth in (10, 30, 100, 1000):
        for kind in ("kvlist", "array"):
            out.send(Signal.TRACES, hostile_otlp.hostile_span("deep", deep=(depth, kind)))
    # protobuf's recursion limit (100 messages) lets the shallow ones through, refuses the rest
    assert out.accepted == 4 and out.refused == 4


def test_invalid_utf8_in_a_string_field_is_refused(receiver):
    good = hostile_otlp.hostile_span("utf8-probe-name")
    bad = good.replace(b"utf8-probe-name", b"utf8-probe-\xff\xfe\xc0")
    with pytest.raises(IngestError, match="malformed"):
        receiver.accept(Signal.TRACES, bad, {}, "fuzz")


def test_huge_strings_and_arrays_are_accepted_up_to_the_size_limit(receiver):
    out = Outcomes(receiver)
    out.send(Signal.TRACES, hostile_otlp.hostile_span("big", attrs={"s": "x" * (10 << 20)}))
    out.send(Signal.TRACES, hostile_otlp.hostile_span("arr", attrs={"a": list(range(200_000))}))
    out.send(Signal.LOGS, hostile_otlp.hostile_log("big", "y" * (17 << 20)))  # over max_request_bytes
    assert (out.accepted, out.refused) == (2, 1)


def test_truncated_and_garbage_requests_are_refused(receiver):
    out = Outcomes(receiver)
    for signal in Signal:
        for seed in hostile_otlp.SEEDS[signal]():
            for cut in range(1, len(seed), max(1, len(seed) // 50)):
                out.send(signal, seed[:cut])
        out.send(signal, b"\xff" * 64)
    assert out.refused > 0
    assert receiver.metrics.total(receiver.metrics.received_requests) == out.accepted
    assert receiver.metrics.total(receiver.metrics.rejected_requests) == out.refused


def test_oversized_or_non_utf8_envelope_headers_are_refused_not_crashed(receiver):
    payload = hostile_otlp.hostile_span("hdr")
    for header in (AGENT_ID_HEADER, TENANT_HEADER):
        for value in ("a" * 70_000, "\udcff"):
            with pytest.raises(IngestError, match=header):
                receiver.accept(Signal.TRACES, payload, {header: value}, "fuzz")
    assert receiver.accept(Signal.TRACES, payload, {AGENT_ID_HEADER: "é" * 512}, "fuzz") == 1
    assert rejected(receiver, Signal.TRACES) == 4


_odd = st.sampled_from(hostile_otlp.ODD_VALUES)
_key = st.sampled_from(["service.name", "i", "", "k" * 300, "é", "\x00"]) | st.text(max_size=10)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(attrs=st.dictionaries(_key, _odd, max_size=6), start=st.sampled_from(hostile_otlp.TIMESTAMPS),
       end=st.sampled_from(hostile_otlp.TIMESTAMPS), body=_odd, value=st.floats(), duplicate=st.booleans(),
       depth=st.integers(0, 40))
def test_structured_hostile_requests(tmp_path_factory, attrs, start, end, body, value, duplicate, depth):
    spool = Spool(str(tmp_path_factory.mktemp("spool")), fsync=False)
    try:
        out = Outcomes(Receiver(spool, PipelineMetrics()))
        out.send(Signal.TRACES, hostile_otlp.hostile_span("s", attrs=attrs, start=start, end=end, duplicate_key=duplicate,
                                                          deep=(depth, "kvlist") if depth else None))
        out.send(Signal.LOGS, hostile_otlp.hostile_log("s", body, time_ns=end))
        out.send(Signal.METRICS, hostile_otlp.hostile_gauge("s", value, time_ns=start))
        assert out.accepted + out.refused == 3
    finally:
        spool.close()


def test_nested_value_helper_builds_the_depth_asked():
    value, depth = hostile_otlp.nested(5), 0
    while value.WhichOneof("value") == "kvlist_value":
        value, depth = value.kvlist_value.values[0].value, depth + 1
    assert depth == 5 and isinstance(value, common_pb2.AnyValue) and value.string_value == "leaf"
