"""What the receiver accepted must insert through chDB, or be set aside alone by the writer while the
well-formed neighbours of its batch still land. Mutated requests that pass the receiver are batched
with well-formed ones and written by the real Writer; extreme timestamps and the per-insert
partition limit are checked against what the tables read back."""
from __future__ import annotations

import threading
import time

import pytest
from stackeye.collector.ingest.receiver import IngestError, Receiver
from stackeye.collector.queue.spool import Spool
from stackeye.collector.telemetry import PipelineMetrics
from stackeye.collector.writer.writer import Writer, WriterConfig
from stackeye.core.signals import Signal
from support import hostile_otlp
from support.mutate import mutations
from support.otlp_builders import spans_request

HOSTILE_PER_SIGNAL = 300  # the longer runs are bench/fuzz.py's
NEIGHBOUR_EVERY = 10  # one well-formed request after every so many hostile ones
TABLE = {Signal.TRACES: "otel_traces", Signal.LOGS: "otel_logs", Signal.METRICS: "otel_metrics_gauge"}


def neighbour(signal: Signal, n: int) -> bytes:
    service = f"neighbour-{n}"
    if signal is Signal.TRACES:
        return spans_request(service, 2).SerializeToString()
    if signal is Signal.LOGS:
        return hostile_otlp.hostile_log(service, "fine")
    return hostile_otlp.hostile_gauge(service, 1.0)


class Pipeline:
    """Receiver → spool → Writer → chDB, the embedded path, driven one batch at a time."""

    def __init__(self, storage, directory: str):
        self.storage = storage
        self.metrics = PipelineMetrics()
        self.spool = Spool(directory, fsync=False, max_bytes=1 << 40)
        self.receiver = Receiver(self.spool, self.metrics)
        self.writer = Writer(self.spool, storage, self.metrics, WriterConfig(retry_initial_s=0.01, retry_max_s=0.05))

    def send(self, signal: Signal, payload: bytes) -> bool:
        try:
            self.receiver.accept(signal, payload, {}, "fuzz")
            return True
        except IngestError:
            return False

    def drain(self, timeout: float = 240.0) -> None:
        """Write every queued batch; a batch still retrying after ``timeout`` fails the test."""
        def run():
            while (batch := self.spool.read(100, 16 << 20, 0)) is not None:
                if not self.writer.write_batch(batch):
                    return
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            self.writer.stop(drain=False)  # ends the retries
            thread.join(30)
            pytest.fail(f"the writer was still retrying after {timeout}s: {self.writer.last_error}")

    def count(self, sql: str) -> int:
        return int(self.storage.query(sql).rows[0][0])

    def dead_letters(self) -> float:
        return self.metrics.total(self.metrics.dead_letters)

    def close(self) -> None:
        self.spool.close()


@pytest.fixture
def pipeline(chdb_storage, tmp_path):
    p = Pipeline(chdb_storage(), str(tmp_path / "spool"))
    yield p
    p.close()


@pytest.mark.parametrize("signal", list(Signal), ids=lambda s: s.name.lower())
def test_accepted_hostile_requests_insert_or_go_aside_alone(pipeline, signal):
    accepted = neighbours = 0
    for payload in mutations(hostile_otlp.SEEDS[signal](), HOSTILE_PER_SIGNAL * 200, seed=100 + signal):
        if not pipeline.send(signal, payload):
            continue
        accepted += 1
        if accepted % NEIGHBOUR_EVERY == 0:
            assert pipeline.send(signal, neighbour(signal, neighbours))
            neighbours += 1
        if accepted == HOSTILE_PER_SIGNAL:
            break
    assert accepted == HOSTILE_PER_SIGNAL
    pipeline.drain()
    landed = pipeline.count(f"SELECT uniqExact(ServiceName) FROM {TABLE[signal]} WHERE ServiceName LIKE 'neighbour-%'")
    assert landed == neighbours
    # whatever was refused went aside one by one and was counted; the rest is in the tables
    assert pipeline.dead_letters() <= accepted


def test_extreme_timestamps_never_cost_neighbours(pipeline):
    for ts in hostile_otlp.TIMESTAMPS:
        assert pipeline.send(Signal.TRACES, hostile_otlp.hostile_span(f"ts-{ts}", start=ts, end=hostile_otlp.U64_MAX))
        assert pipeline.send(Signal.LOGS, hostile_otlp.hostile_log(f"ts-{ts}", "x", time_ns=ts))
        assert pipeline.send(Signal.METRICS, hostile_otlp.hostile_gauge(f"ts-{ts}", 1.0, time_ns=ts))
    for signal in Signal:
        assert pipeline.send(signal, neighbour(signal, 0))
    pipeline.drain()
    assert pipeline.dead_letters() == 0
    for signal, table in TABLE.items():
        assert pipeline.count(f"SELECT count() FROM {table} WHERE ServiceName = 'neighbour-0'") >= 1, table
    # a start past 2^63 ns wraps to 1677 (toInt64 of the UInt64); the TTL may drop the rows it sees
    # as expired (at 0, or DateTime overflow), at insert or at the next merge: never a neighbour's
    for (ts_text,) in pipeline.storage.query("SELECT toString(Timestamp) FROM otel_traces WHERE ServiceName LIKE 'ts-%'").rows:
        assert ts_text[:4] in ("1677", "1969", "1970", "2262"), ts_text


def test_a_batch_over_the_partition_limit_is_split_not_retried_forever(pipeline):
    day, now = 86_400 * 10**9, time.time_ns()  # days ahead: within the tables' TTL
    for i in range(150):  # 150 days in one batch: over max_partitions_per_insert_block (100)
        assert pipeline.send(Signal.TRACES, hostile_otlp.hostile_span(f"day-{i}", start=now + i * day))
    one = spans_request("many-days", 0)
    for i in range(150):  # ... and in one request, which can only go aside
        span = one.resource_spans[0].scope_spans[0].spans.add(name="d", span_id=b"\x01" * 8, trace_id=b"\x02" * 16)
        span.start_time_unix_nano = span.end_time_unix_nano = now + i * day
    assert pipeline.send(Signal.TRACES, one.SerializeToString())
    pipeline.drain()
    assert pipeline.count("SELECT uniqExact(ServiceName) FROM otel_traces WHERE ServiceName LIKE 'day-%'") == 150
    assert pipeline.count("SELECT count() FROM otel_traces WHERE ServiceName = 'many-days'") == 0
    assert pipeline.dead_letters() == 1


def test_nan_and_infinite_values_read_back_as_clickhouse_renders_them(pipeline):
    assert pipeline.send(Signal.TRACES, hostile_otlp.hostile_span(
        "nan", attrs={"n": float("nan"), "i": float("inf"), "a": [float("-inf")]}, duplicate_key=True))
    for v in (float("nan"), float("inf"), -float("inf")):
        assert pipeline.send(Signal.METRICS, hostile_otlp.hostile_gauge("nan", v))
    pipeline.drain()
    assert pipeline.dead_letters() == 0
    (attrs,), = pipeline.storage.query("SELECT SpanAttributes FROM otel_traces WHERE ServiceName = 'nan'").rows
    # the last of duplicate keys wins, as in the exporter's map
    assert attrs == {"n": "nan", "i": "again", "a": "[-Infinity]"}
    assert pipeline.count("SELECT count() FROM otel_metrics_gauge WHERE ServiceName = 'nan' AND NOT isFinite(Value)") == 3
