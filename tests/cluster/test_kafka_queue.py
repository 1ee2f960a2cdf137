"""KafkaQueue against a real broker (tansu): acks, headers, splitting, dead letters, exact replays."""
from __future__ import annotations

import time

import pytest
from kafka import KafkaConsumer
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from stackeye.collector.queue.base import QueueUnavailable, Record
from stackeye.collector.queue.kafka import KafkaQueue
from stackeye.collector.queue.kafka_config import KafkaConfig, KafkaConfigError, parse_brokers, parse_topics
from stackeye.collector.queue.kafka_records import H_DLQ_REASON, H_DLQ_SOURCE
from stackeye.collector.queue.kafka_split import RecordTooLarge, split_to_fit
from stackeye.core.signals import Signal, count_items
from support.otlp_builders import spans_request
from support.services import free_port


def _record(n_spans: int, service: str = "svc", **kw) -> Record:
    req = spans_request(service, n_spans)
    return Record(Signal.TRACES, req.SerializeToString(), n_spans, time.time_ns(), **kw)


def _drain(queue: KafkaQueue, expected_items: int, max_records: int = 50, timeout: float = 60.0, commit: bool = True):
    """Read (begin, commit) until ``expected_items`` came back; the batches read."""
    batches, items = [], 0
    deadline = time.monotonic() + timeout
    while items < expected_items and time.monotonic() < deadline:
        batch = queue.read(max_records, 1 << 20, 0.5)
        if batch is None:
            continue
        queue.begin(batch)
        batches.append(batch)
        items += batch.items
        if commit:
            queue.commit(batch)
    return batches


def _state(*queues) -> str:
    """Each consumer's assignment and per-partition state, for assertion messages."""
    out = []
    for name, q in zip("ab", queues):
        q._refresh_lag(force=True)
        assigned = sorted(f"{tp.topic}/{tp.partition}" for tp in q._consumer.assignment()) if q._consumer else None
        out.append(f"{name}: assigned={assigned} paused={_paused(q)} partitions={q.partitions}")
    return "; ".join(out)


def _paused(q: KafkaQueue) -> list[str]:
    return sorted(f"{tp.topic}/{tp.partition}" for tp, state in q._parts.items() if state.paused)


def _buffered(q: KafkaQueue) -> int:
    return sum(len(state.records) for state in q._parts.values())


def _config(kafka, **kw) -> KafkaConfig:
    kw.setdefault("partitions", 2)
    return KafkaConfig(brokers=parse_brokers(kafka.bootstrap), **kw)


def test_put_then_read_keeps_bytes_and_envelope(kafka):
    producer, consumer = KafkaQueue(_config(kafka)), KafkaQueue(_config(kafka))
    sent = [_record(3, tenant="team-a", agent_id="host-1") for _ in range(10)]
    producer.put(sent)
    batches = _drain(consumer, 30)
    got = [r for b in batches for r in b.records]
    assert sorted(r.payload for r in got) == sorted(r.payload for r in sent)
    assert {(r.tenant, r.agent_id, r.items) for r in got} == {("team-a", "host-1", 3)}
    assert {r.received_ns for r in got} == {r.received_ns for r in sent}
    for b in batches:  # one partition per batch, token = its offset range
        tp, first, last = b.position
        assert b.token == f"kafka-otlp_spans-{tp.partition}-{first}-{last}"
    producer.close()
    consumer.close()


def test_a_request_over_the_message_size_is_split_into_valid_requests(kafka):
    big = _record(4000)
    assert len(big.payload) > 200_000
    pieces = split_to_fit(big, 64_000)
    assert len(pieces) > 3
    assert all(len(p) <= 64_000 for p, _ in pieces)
    assert sum(n for _, n in pieces) == 4000
    for payload, n in pieces:  # each piece is a whole request with its resource and scope
        req = Signal.TRACES.request_type.FromString(payload)
        assert count_items(Signal.TRACES, req) == n
        assert req.resource_spans[0].resource.attributes[0].value.string_value == "svc"
        assert req.resource_spans[0].scope_spans[0].scope.name == "tests"
    producer = KafkaQueue(_config(kafka, max_message_bytes=100_000))
    producer.put([big])
    consumer = KafkaQueue(_config(kafka))
    batches = _drain(consumer, 4000)
    spans = {s.span_id for b in batches for r in b.records
             for rs in Signal.TRACES.request_type.FromString(r.payload).resource_spans
             for ss in rs.scope_spans for s in ss.spans}
    assert len(spans) == 4000
    producer.close()
    consumer.close()


def test_metrics_with_many_points_split_by_data_points():
    req = ExportMetricsServiceRequest()
    metric = req.resource_metrics.add().scope_metrics.add().metrics.add(name="m")
    for i in range(20_000):
        metric.gauge.data_points.add(time_unix_nano=i, as_int=i)
    rec = Record(Signal.METRICS, req.SerializeToString(), 20_000, 0)
    pieces = split_to_fit(rec, 65_000)
    assert all(len(p) <= 65_000 for p, _ in pieces) and sum(n for _, n in pieces) == 20_000
    one_span = _record(1)
    with pytest.raises(RecordTooLarge, match="over Kafka's message limit"):
        split_to_fit(Record(Signal.TRACES, one_span.payload, 1, 0), 10)


def test_unreachable_kafka_is_queue_unavailable_with_the_reason():
    port = free_port()
    queue = KafkaQueue(KafkaConfig(brokers=(f"127.0.0.1:{port}",), produce_timeout_s=1.0))
    with pytest.raises(QueueUnavailable, match=rf"Kafka at 127.0.0.1:{port} is unavailable .*retry later") as err:
        queue.put([_record(1)])
    assert "Configuration" not in str(err.value), "unreachable, not refused by the client's own settings"
    queue.close()


def test_bad_config_is_refused():
    for bad in ("", "host", "host:port", "host:0", "a:1,,b:2"):
        with pytest.raises(KafkaConfigError, match="expected host:port"):
            parse_brokers(bad)
    assert parse_brokers("kafka://k1:9092, k2:9093") == ("k1:9092", "k2:9093")
    assert parse_topics("spans=a,logs=b")[Signal.TRACES] == "a"
    with pytest.raises(KafkaConfigError):
        parse_topics("nothing")
    with pytest.raises(KafkaConfigError, match="own topic"):
        KafkaConfig(brokers=("k:1",), topics={Signal.TRACES: "x", Signal.LOGS: "x", Signal.METRICS: "y"}).validate()


def _queue_with_a_poison_record(kafka):
    """One partition holding 2 good requests, a record that is not protobuf, then 3 more; a producer and a
    consumer on it."""
    config = _config(kafka, partitions=1)
    producer = KafkaQueue(config)
    producer.put([_record(2)])
    producer.producer.get().send("otlp_spans", b"\xff\xfe not protobuf").get(10)
    producer.put([_record(3)])
    return producer, KafkaQueue(config)


def test_poison_record_goes_to_the_dead_letter_topic_and_the_partition_moves_on(kafka):
    producer, consumer = _queue_with_a_poison_record(kafka)
    batches = _drain(consumer, 5, max_records=10)
    assert sum(b.items for b in batches) == 5 and consumer.dead_lettered == 1
    dlq = KafkaConsumer("otlp_dead_letter", bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest",
                        consumer_timeout_ms=5000)
    [msg] = list(dlq)
    headers = dict(msg.headers)
    assert msg.value == b"\xff\xfe not protobuf"
    assert b"not a valid ExportTraceServiceRequest" in headers[H_DLQ_REASON]
    assert headers[H_DLQ_SOURCE] == b"otlp_spans/0/1"
    dlq.close()
    producer.close()
    consumer.close()


def test_a_batch_replayed_after_a_crash_has_the_same_range_and_token(kafka):
    config = _config(kafka, partitions=1)
    producer = KafkaQueue(config)
    producer.put([_record(1) for _ in range(20)])
    first = KafkaQueue(config)
    [lost] = _drain(first, 1, max_records=3, commit=False)  # inserted, then the writer dies before commit
    assert len(lost.records) == 3
    first.close()
    second = KafkaQueue(config)
    replay = _drain(second, 20, max_records=50)  # bigger batches, yet the first one ends where the lost one did
    assert replay[0].token == lost.token
    assert [r.payload for r in replay[0].records] == [r.payload for r in lost.records]
    assert sum(b.items for b in replay) == 20  # and nothing else is lost or repeated
    second.close()
    third = KafkaQueue(config)  # everything committed: nothing comes back
    assert third.read(50, 1 << 20, 4.0) is None
    third.close()
    producer.close()


def _consume_all(queues, seen: int, total: int, max_records: int, timeout: float = 90) -> int:
    """Read and commit from every queue in turn until ``total`` items were seen or time is up."""
    deadline = time.monotonic() + timeout
    while seen < total and time.monotonic() < deadline:
        for q in queues:
            batch = q.read(max_records, 1 << 20, 0.2)
            if batch is not None:
                q.begin(batch)
                q.commit(batch)
                seen += batch.items
    return seen


def test_partitions_paused_for_back_pressure_keep_flowing_across_a_rebalance(kafka):
    config = _config(kafka, partitions=2)
    producer = KafkaQueue(config)
    producer.put([_record(1) for _ in range(60)])
    a = KafkaQueue(config)
    seen, deadline = 0, time.monotonic() + 30
    while not _paused(a) and time.monotonic() < deadline:  # tiny byte limit: a pauses what it fetched
        batch = a.read(1, 1, 0.5)
        if batch is not None:
            a.begin(batch)
            a.commit(batch)
            seen += batch.items
    assert _paused(a)
    b = KafkaQueue(config)  # joins: a keeps a partition, and kafka-python keeps its paused flag
    assert _consume_all((a, b), seen, 60, max_records=10) == 60, _state(a, b)
    for q in (producer, a, b):
        q.close()


def test_records_buffered_when_a_rebalance_starts_are_read_again(kafka):
    config = _config(kafka, partitions=2)
    producer = KafkaQueue(config)
    producer.ensure_topics()
    raw = producer.producer.get()
    for i in range(40):  # both partitions, then nothing more: only a seek brings dropped records back
        raw.send("otlp_spans", _record(1).payload, partition=i % 2).get(10)
    a = KafkaQueue(config)
    seen, deadline = 0, time.monotonic() + 30
    while not _buffered(a) and time.monotonic() < deadline:
        batch = a.read(5, 1, 0.3)  # hands out 1 record (byte limit): the rest of the fetch stays buffered
        if batch is not None:
            a.begin(batch)
            a.commit(batch)
            seen += batch.items
    assert _buffered(a)  # a holds fetched, uncommitted records when b joins
    b = KafkaQueue(config)
    assert _consume_all((a, b), seen, 40, max_records=5) == 40, _state(a, b)
    for q in (producer, a, b):
        q.close()


def test_a_partition_paused_for_back_pressure_flows_again_once_drained(kafka):
    """kafka-python parks the fetched records of a partition paused mid-batch and may never hand
    them back (nor fetch that partition again): the queue must never pause one mid-batch."""
    config = _config(kafka, partitions=2)
    producer = KafkaQueue(config)
    producer.ensure_topics()
    raw = producer.producer.get()
    for i in range(40):
        raw.send("otlp_spans", _record(1).payload, partition=i % 2).get(10)
    a = KafkaQueue(config)
    seen, paused, deadline = 0, False, time.monotonic() + 30
    while seen < 40 and time.monotonic() < deadline:
        batch = a.read(5, 1, 0.3)  # one record per batch: both partitions are paused in turn
        paused = paused or bool(_paused(a))
        if batch is not None:
            a.begin(batch)
            a.commit(batch)
            seen += batch.items
    assert paused
    assert seen == 40, _state(a)
    producer.close()
    a.close()


def test_a_batch_whose_dead_letter_could_not_be_sent_is_read_again_not_skipped(kafka):
    producer, consumer = _queue_with_a_poison_record(kafka)
    send_dead_letter, failures = consumer.dead_letter, []

    def dead_letter_topic_down_once(record, reason, source=""):
        if not failures:
            failures.append(source)
            raise QueueUnavailable("Kafka at … is unavailable (cannot produce to otlp_dead_letter); retry later")
        send_dead_letter(record, reason, source)

    consumer.dead_letter = dead_letter_topic_down_once
    batches, deadline = [], time.monotonic() + 60
    while sum(b.items for b in batches) < 5 and time.monotonic() < deadline:
        try:
            batch = consumer.read(10, 1 << 20, 0.5)
        except QueueUnavailable:
            continue  # the writer backs off and reads again
        if batch is not None:
            consumer.begin(batch)
            consumer.commit(batch)
            batches.append(batch)
    assert failures == ["otlp_spans/0/1"]
    assert sum(b.items for b in batches) == 5 and consumer.dead_lettered == 1, _state(consumer)
    assert batches[0].position[1] == 0, "read again from the first offset of the failed batch"
    producer.close()
    consumer.close()
