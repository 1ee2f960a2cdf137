"""A crash between insert and commit: the replay writes nothing twice."""
from __future__ import annotations

import pytest
from stackeye.collector.queue.base import Record
from stackeye.collector.queue.spool import Spool
from stackeye.collector.telemetry import PipelineMetrics
from stackeye.collector.writer.writer import Writer, WriterConfig, tenant_token
from stackeye.core.signals import Signal
from stackeye.storage.base import StorageError
from support.otlp_builders import logs_request, spans_request
from support.wait import wait_until


def records(n_requests: int, spans: int) -> list[Record]:
    return [Record(Signal.TRACES, spans_request("svc", spans).SerializeToString(), spans, 0) for _ in range(n_requests)]


def count(storage) -> int:
    return storage.query("SELECT count() FROM otel_traces").rows[0][0]


def test_replay_after_crash_between_insert_and_commit(tmp_path, chdb_storage):
    storage = chdb_storage()
    spool = Spool(str(tmp_path))
    spool.put(records(4, 50))
    batch = spool.read(100, 1 << 30, 0)
    spool.begin(batch)
    storage.insert_otlp(Signal.TRACES, [r.payload for r in batch.records], batch.token)
    spool.close()  # crash: the insert happened, the commit did not

    spool = Spool(str(tmp_path))
    spool.put(records(1, 10))  # new data after the restart
    writer = Writer(spool, storage, PipelineMetrics(), WriterConfig(batch_max_wait_s=0))
    while (b := spool.read(100, 1 << 30, 0)) is not None:
        assert writer.write_batch(b)
    assert count(storage) == 4 * 50 + 10
    spool.close()


class FlakyStorage:
    """The real storage, down for the first ``failures`` inserts (as a stopped server would be)."""

    def __init__(self, storage, failures: int, retryable: bool = True):
        self.storage, self.failures, self.retryable = storage, failures, retryable

    def insert_otlp(self, signal, payloads, token, tenant="default"):
        if self.failures > 0:
            self.failures -= 1
            raise StorageError("Connection refused", retryable=self.retryable)
        return self.storage.insert_otlp(signal, payloads, token, tenant)


def test_storage_down_is_retried_until_it_returns(tmp_path, chdb_storage):
    storage = chdb_storage()
    spool = Spool(str(tmp_path))
    spool.put(records(3, 20))
    metrics = PipelineMetrics()
    writer = Writer(spool, FlakyStorage(storage, failures=3), metrics, WriterConfig(batch_max_wait_s=0, retry_initial_s=0.01))
    assert writer.write_batch(spool.read(100, 1 << 30, 0))
    assert count(storage) == 60
    assert metrics.total(metrics.insert_errors) == 3
    spool.close()


def test_a_request_refused_for_good_is_set_aside_and_the_rest_written(tmp_path, chdb_storage):
    storage = chdb_storage()
    spool = Spool(str(tmp_path))
    good = records(2, 10)
    # a payload the engine cannot read: valid to upb at ingest is required in production, so this
    # stands for any record ClickHouse refuses deterministically
    bad = Record(Signal.TRACES, b"\x0a\x05\x12\x03\x12\x01", 1, 0)
    spool.put([good[0], bad, good[1]])
    metrics = PipelineMetrics()
    writer = Writer(spool, storage, metrics, WriterConfig(batch_max_wait_s=0))
    assert writer.write_batch(spool.read(100, 1 << 30, 0))
    assert count(storage) == 20
    assert metrics.total(metrics.dead_letters) == 1
    assert len(list((tmp_path / "deadletter").glob("*.pb"))) == 1
    spool.close()


class FailingBegin:
    """A spool whose first begin() fails (e.g. the disk refused the state file)."""

    def __init__(self, spool):
        self.spool, self.failed = spool, False

    def __getattr__(self, name):
        return getattr(self.spool, name)

    def begin(self, batch):
        if not self.failed:
            self.failed = True
            raise OSError("No space left on device")
        self.spool.begin(batch)


def test_a_queue_failure_around_a_batch_rereads_it_instead_of_skipping(tmp_path, chdb_storage):
    storage = chdb_storage()
    spool = Spool(str(tmp_path))
    spool.put(records(3, 10))
    queue = FailingBegin(spool)
    writer = Writer(queue, storage, PipelineMetrics(), WriterConfig(batch_max_wait_s=0.05))
    writer.start()
    wait_until(lambda: count(storage) >= 30, timeout=20, required=False)
    writer.stop()
    assert queue.failed and count(storage) == 30
    assert spool.depth()[1] == 0
    spool.close()


def test_stopping_while_the_storage_is_down_ends_the_backoff_and_keeps_the_batch(tmp_path, chdb_storage):
    storage = chdb_storage()
    spool = Spool(str(tmp_path))
    spool.put(records(2, 5))
    metrics = PipelineMetrics()
    # down for good, and an hour between attempts: only stop can end the wait
    writer = Writer(spool, FlakyStorage(storage, failures=10**9), metrics,
                    WriterConfig(batch_max_wait_s=0, retry_initial_s=3600, retry_max_s=3600))
    writer.start()
    wait_until(lambda: metrics.total(metrics.insert_errors) > 0, timeout=20, interval=0.05, required=False)
    assert metrics.total(metrics.insert_errors) == 1 and "Connection refused" in writer.last_error
    writer.stop(drain=False, timeout=30)
    assert not writer._thread.is_alive(), "stop ends the wait between attempts"
    assert count(storage) == 0 and spool.depth()[1] > 0, "the batch stays queued"
    spool.close()
    spool = Spool(str(tmp_path))  # and is written once the storage is back
    assert Writer(spool, storage, PipelineMetrics(), WriterConfig(batch_max_wait_s=0)).write_batch(spool.read(100, 1 << 30, 0))
    assert count(storage) == 10
    spool.close()


def tenant_counts(storage, table: str = "otel_traces") -> dict[str, int]:
    return dict(storage.query(f"SELECT Tenant, count() FROM {table} GROUP BY Tenant").rows)


class CrashAtCommit:
    """A spool that dies after the inserts of a batch, before its commit."""

    def __init__(self, spool):
        self.spool = spool

    def __getattr__(self, name):
        return getattr(self.spool, name)

    def commit(self, batch):
        raise OSError("killed")


def test_records_of_two_tenants_in_one_batch_land_as_theirs_and_a_replay_writes_once(tmp_path, chdb_storage):
    storage = chdb_storage()
    spool = Spool(str(tmp_path))
    same = spans_request("svc", 4).SerializeToString()  # the same bytes for both tenants: two inserts, not one
    sent = [Record(Signal.TRACES, same, 4, 0, tenant="acme"), Record(Signal.TRACES, same, 4, 0, tenant="default"),
            Record(Signal.TRACES, spans_request("svc", 6).SerializeToString(), 6, 0, tenant="acme"),
            Record(Signal.LOGS, logs_request("svc", ["a", "b", "c", "d", "e"]).SerializeToString(), 5, 0, tenant="globex")]
    spool.put(sent)
    writer = Writer(CrashAtCommit(spool), storage, PipelineMetrics(), WriterConfig(batch_max_wait_s=0))
    with pytest.raises(OSError):
        writer.write_batch(spool.read(100, 1 << 30, 0))
    spool.close()
    expected = ({"acme": 10, "default": 4}, {"globex": 5})
    assert (tenant_counts(storage), tenant_counts(storage, "otel_logs")) == expected

    spool = Spool(str(tmp_path))  # the restart reads the same batch again: every insert deduplicates
    assert Writer(spool, storage, PipelineMetrics(), WriterConfig(batch_max_wait_s=0)).write_batch(spool.read(100, 1 << 30, 0))
    assert (tenant_counts(storage), tenant_counts(storage, "otel_logs")) == expected
    assert dict(storage.query("SELECT Tenant, countMerge(Calls) FROM stackeye_red_1m GROUP BY Tenant").rows) == \
        {"acme": 10, "default": 4}  # the rollups keep the tenants apart too
    spool.close()


def test_a_refused_request_of_one_tenant_leaves_the_others_written_as_theirs(tmp_path, chdb_storage):
    storage = chdb_storage()
    spool = Spool(str(tmp_path))
    bad = Record(Signal.TRACES, b"\x0a\x05\x12\x03\x12\x01", 1, 0, tenant="acme")
    spool.put([Record(Signal.TRACES, spans_request("svc", 3).SerializeToString(), 3, 0, tenant="acme"), bad,
               Record(Signal.TRACES, spans_request("svc", 2).SerializeToString(), 2, 0, tenant="globex")])
    metrics = PipelineMetrics()
    assert Writer(spool, storage, metrics, WriterConfig(batch_max_wait_s=0)).write_batch(spool.read(100, 1 << 30, 0))
    assert tenant_counts(storage) == {"acme": 3, "globex": 2}
    assert metrics.total(metrics.dead_letters) == 1
    spool.close()


def test_tenant_tokens_are_distinct_stable_and_the_default_keeps_the_batch_token():
    assert tenant_token("spool-1-9", "default") == "spool-1-9"
    assert tenant_token("spool-1-9", "acme") == tenant_token("spool-1-9", "acme") != tenant_token("spool-1-9", "acme-r0")
    assert "'" not in tenant_token("spool-1-9", "o'brien")
