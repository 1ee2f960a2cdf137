"""The Queue contract (collector/queue/base.py), the same behaviours on the disk spool and on Kafka.

Each test runs once per queue through the interface alone: put, read, begin, commit, depth, wake,
close. Kafka is a real broker (tansu, memory storage, one partition so that order is total), a
fresh one per test; "reopening" a Kafka queue is a new consumer in the same group, as a restarted
writer is. Where the two legitimately differ the expectation is parametrized, with the reason.
"""
from __future__ import annotations

import dataclasses
import os
import threading
import time

import pytest
from stackeye.collector.queue.base import Batch, QueueFull, QueueUnavailable, Record
from stackeye.core.signals import Signal
from support.kafka import TansuBroker
from support.otlp_builders import spans_request
from support.wait import wait_until


class SpoolSide:
    name = "spool"

    def __init__(self, tmp_path):
        self.dir = str(tmp_path / "spool")
        self.opened: list = []

    def open(self, **kw):
        from stackeye.collector.queue.spool import Spool

        queue = Spool(self.dir, **kw)
        self.opened.append(queue)
        return queue

    def break_begin(self):
        os.makedirs(os.path.join(self.dir, "state.json.tmp"))  # the state file cannot be written: "disk error"

    def mend_begin(self):
        os.rmdir(os.path.join(self.dir, "state.json.tmp"))

    def oversized(self, queue) -> tuple:
        """A queue at its bound, and a record over it."""
        queue.close()
        small = self.open(max_bytes=64 * 1024)
        return small, record("too-much", spans=2000)

    def stop(self):
        for queue in self.opened:
            queue.close()


class KafkaSide:
    name = "kafka"

    def __init__(self, tmp_path):
        from stackeye.collector.queue.kafka_config import KafkaConfig, parse_brokers

        self.broker = TansuBroker(str(tmp_path / "tansu.log")).start()
        self.config = KafkaConfig(brokers=parse_brokers(self.broker.bootstrap), partitions=1,
                                  max_message_bytes=64 * 1024)
        self.opened: list = []

    def open(self, **config):
        from stackeye.collector.queue.kafka import KafkaQueue

        queue = KafkaQueue(dataclasses.replace(self.config, **config))
        self.opened.append(queue)
        return queue

    def break_begin(self):
        self.broker.pause()  # requests hang, as behind a network partition

    def mend_begin(self):
        self.broker.resume()

    def oversized(self, queue) -> tuple:
        """Kafka has no bound of its own to fill: what it refuses is one item over its message size."""
        return queue, record("one-huge-span", attrs={"blob": "x" * 100_000})

    def stop(self):
        for queue in self.opened:
            queue.close()
        self.broker.stop()


@pytest.fixture(params=["spool", "kafka"])
def side(request, tmp_path):
    s = SpoolSide(tmp_path) if request.param == "spool" else KafkaSide(tmp_path)
    yield s
    s.stop()


def record(service: str, spans: int = 2, attrs: dict | None = None, **envelope) -> Record:
    payload = spans_request(service, spans, attrs=attrs).SerializeToString()
    return Record(Signal.TRACES, payload, spans, time.time_ns(), **envelope)


def next_batch(queue, max_records: int = 100, max_bytes: int = 1 << 30, timeout: float = 60.0) -> Batch:
    """The next batch (a Kafka consumer first joins its group: a few seconds)."""
    return wait_until(lambda: queue.read(max_records, max_bytes, 0.5), timeout=timeout, interval=0,
                      message="a batch")


def write(queue, batch: Batch) -> Batch:
    """What the writer does with a batch once the storage has it."""
    queue.begin(batch)
    queue.commit(batch)
    return batch


def drain(queue, n_records: int, max_records: int = 100) -> list[Record]:
    out: list[Record] = []
    while len(out) < n_records:
        out.extend(write(queue, next_batch(queue, max_records)).records)
    return out


def test_put_then_read_returns_the_records_in_order_with_their_envelope(side):
    queue = side.open()
    sent = [record(f"svc-{i}", spans=i + 1, tenant=f"team-{i % 2}", agent_id=f"host-{i}") for i in range(6)]
    queue.put(sent[:3])
    queue.put(sent[3:])
    got = drain(queue, 6)
    assert got == sent  # bytes, signal, items, receive time, tenant and agent id, in order


def test_a_batch_begun_but_not_committed_is_read_again_after_reopening(side):
    queue = side.open()
    sent = [record(f"svc-{i}") for i in range(6)]
    queue.put(sent)
    lost = next_batch(queue, max_records=2)
    queue.begin(lost)  # inserted, then the writer dies before commit
    queue.close()
    again = side.open()
    replay = next_batch(again, max_records=100)  # bigger batches, yet the replay is the same range
    assert (replay.token, replay.records) == (lost.token, lost.records)
    write(again, replay)
    rest = drain(again, 6 - len(lost.records))
    assert lost.records + rest == sent


# A quick give-up: Kafka's begin retries for six produce timeouts before it fails.
QUICK_BEGIN = {"spool": {}, "kafka": {"produce_timeout_s": 1.0}}


def test_a_batch_whose_begin_failed_is_read_again_not_skipped(side):
    queue = side.open(**QUICK_BEGIN[side.name])
    sent = [record(f"svc-{i}") for i in range(4)]
    queue.put(sent)
    batch = next_batch(queue, max_records=2)
    side.break_begin()
    try:
        with pytest.raises(Exception):
            queue.begin(batch)
    finally:
        side.mend_begin()
    again = next_batch(queue, max_records=2)  # what the writer does next, after its backoff
    assert (again.token, again.records) == (batch.token, batch.records)
    write(queue, again)
    assert again.records + drain(queue, 4 - len(again.records)) == sent


def test_commit_moves_on_and_reopening_starts_after_the_last_commit(side):
    queue = side.open()
    sent = [record(f"svc-{i}") for i in range(4)]
    queue.put(sent)
    first = write(queue, next_batch(queue, max_records=2))
    second = write(queue, next_batch(queue, max_records=2))
    assert first.token != second.token
    assert first.records + second.records == sent
    queue.close()
    queue = side.open()
    later = record("after-the-restart")
    queue.put([later])
    assert drain(queue, 1) == [later]  # nothing committed comes back


# Reading again before the commit: the spool has one batch in flight at a time and a new read
# starts at the last commit, so it hands out the same range again; Kafka keeps a partition's batch
# in flight until its commit and hands out nothing more of that partition meanwhile.
AGAIN_BEFORE_COMMIT = {"spool": "the same batch", "kafka": "nothing"}


def test_reading_again_before_the_commit(side):
    queue = side.open()
    sent = [record(f"svc-{i}") for i in range(3)]
    queue.put(sent)
    batch = next_batch(queue, max_records=1)
    queue.begin(batch)
    again = queue.read(1, 1 << 30, 1.0)
    if AGAIN_BEFORE_COMMIT[side.name] == "the same batch":
        assert (again.token, again.records) == (batch.token, batch.records)
    else:
        assert again is None
    queue.commit(batch)
    assert batch.records + drain(queue, 2) == sent


# depth() = (records, bytes) waiting, -1 where unknown: the spool knows the bytes on disk, not the
# count; Kafka knows the records not committed (the group's lag), as of the last read, and the
# bytes it holds fetched in this process (so not a measure of the backlog).
def test_depth_reflects_what_is_queued(side):
    queue = side.open()
    for i in range(3):  # one put each: tansu's end offset counts a multi-record batch as one
        queue.put([record(f"svc-{i}")])
    batch = next_batch(queue, max_records=1)
    queue.read(1, 1 << 30, 1.0)  # a read of at least 1 s refreshes Kafka's lag
    records, nbytes = queue.depth()
    if side.name == "spool":
        assert records == -1 and nbytes > sum(len(r.payload) for r in batch.records) * 3
    else:
        assert records == 3 and nbytes >= 0
    write(queue, batch)
    drain(queue, 2)
    assert queue.read(1, 1 << 30, 1.0) is None
    records, nbytes = queue.depth()
    assert (records, nbytes) == ((-1, 0) if side.name == "spool" else (0, 0))


def test_read_limits_bound_a_batch_and_always_give_at_least_one_record(side):
    queue = side.open()
    queue.put([record(f"svc-{i}") for i in range(5)])
    by_count = next_batch(queue, max_records=2)
    assert 1 <= len(by_count.records) <= 2
    write(queue, by_count)
    by_bytes = next_batch(queue, max_bytes=1)  # smaller than any record: one record, not none
    assert len(by_bytes.records) == 1
    write(queue, by_bytes)


def test_a_put_the_queue_cannot_take_is_refused_with_queue_full_and_nothing_of_it_is_kept(side):
    queue, too_big = side.oversized(side.open())
    with pytest.raises(QueueFull) as err:
        queue.put([too_big])
    assert str(err.value), "the refusal says why"
    fits = record("fits")
    queue.put([fits])
    assert drain(queue, 1) == [fits]


def test_wake_cuts_a_long_wait_for_the_batch_to_fill_short(side):
    queue = side.open()
    lonely = record("lonely")
    queue.put([lonely])
    got: list = []

    def reader():
        while not got:
            batch = queue.read(10_000, 1 << 30, 3600)  # would wait an hour for the batch to fill
            if batch is not None:
                got.append(batch)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    deadline = time.monotonic() + 90
    while thread.is_alive() and time.monotonic() < deadline:
        queue.wake()  # again and again: a wake before the read starts waiting is not kept
        thread.join(0.2)
    assert not thread.is_alive(), "wake() must end the wait"
    assert got[0].records == [lonely]


# After close: the spool refuses a put as QueueFull (it is shutting down: back-pressure, the
# sender retries), Kafka as QueueUnavailable (its client is gone: the same answer as Kafka down).
REFUSED_AFTER_CLOSE = {"spool": QueueFull, "kafka": QueueUnavailable}


def test_close_keeps_what_was_put_refuses_more_and_can_be_repeated(side):
    queue = side.open()
    kept = record("before-close")
    queue.put([kept])
    queue.close()
    queue.close()
    with pytest.raises(REFUSED_AFTER_CLOSE[side.name]):
        queue.put([record("after-close")])
    reopened = side.open()
    assert drain(reopened, 1) == [kept]
