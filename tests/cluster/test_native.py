"""The native-protocol path against a real ClickHouse server (Debian's 18.16): version check,
credentials, retry while the server is down, two writers in one group with one kill -9'd.

18.16 cannot hold the schema, so these tests give it a reduced ``otel_traces``
(``cluster.helpers.REDUCED_TRACES``) and run the writer loop through ``native_writer.py``
(production code, that table's columns). ``FINAL`` on its ReplacingMergeTree stands in for
``insert_deduplication_token``, which 18.16 lacks; the token itself is covered on chDB and by
``test_kafka_queue.test_a_batch_replayed_after_a_crash_has_the_same_range_and_token``.
"""
from __future__ import annotations

import subprocess
import threading
import time

import pytest
from clickhouse_driver import Client
from cluster.helpers import REDUCED_TRACES, native_writer_args, stackeye
from stackeye.collector.queue.base import Record
from stackeye.collector.queue.kafka import KafkaQueue
from stackeye.collector.queue.kafka_config import KafkaConfig, parse_brokers
from stackeye.core.signals import Signal
from stackeye.storage.base import StorageError
from stackeye.storage.native_storage import MIN_SERVER_VERSION, NativeStorage
from stackeye.storage.url import parse_storage_url
from support.otlp_builders import spans_request
from support.wait import wait_until


def _client(server) -> Client:
    return Client("127.0.0.1", port=server.tcp_port, user=server.user, password=server.password)


def _counts(server) -> tuple[int, int, int]:
    """(rows after dedup, distinct span ids, raw rows)."""
    c = _client(server)
    final = c.execute("SELECT count() FROM otel_traces FINAL")[0][0]
    distinct = c.execute("SELECT uniqExact(SpanId) FROM otel_traces")[0][0]
    raw = c.execute("SELECT count() FROM otel_traces")[0][0]
    c.disconnect()
    return final, distinct, raw


def _produce(kafka, requests: int, spans: int = 10, service: str = "svc", pause_s: float = 0.0) -> int:
    queue = KafkaQueue(KafkaConfig(brokers=parse_brokers(kafka.bootstrap), partitions=4))
    for _ in range(requests):
        queue.put([Record(Signal.TRACES, spans_request(service, spans).SerializeToString(), spans, time.time_ns())])
        if pause_s:
            time.sleep(pause_s)
    queue.close()
    return requests * spans


def _wait_rows(server, expected: int, timeout: float = 90.0) -> tuple[int, int, int]:
    """:func:`_counts` once ``expected`` distinct spans are in (or the last counts after ``timeout``)."""
    seen = [(0, 0, 0)]

    def reached() -> bool:
        seen[0] = _counts(server)
        return seen[0][1] >= expected

    wait_until(reached, timeout=timeout, interval=0.3, required=False)
    return seen[0]


def _diagnose(kafka, server, *writers) -> str:
    """What each partition holds, what the group committed, which offsets' spans are missing."""
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=kafka.bootstrap, group_id="stackeye-writer", enable_auto_commit=False)
    tps = [TopicPartition("otlp_spans", p) for p in range(4)]
    ends = c.end_offsets(tps)
    lines = [f"{tp.partition}: end {ends[tp]} committed {c.committed(tp)}" for tp in tps]
    c.close()
    written = {r[0] for r in _client(server).execute("SELECT DISTINCT SpanId FROM otel_traces")}
    reader = KafkaConsumer(bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=3000)
    reader.assign(tps)
    reader.seek_to_beginning(*tps)
    for m in reader:
        req = Signal.TRACES.request_type.FromString(m.value)
        ids = {s.span_id.hex() for s in req.resource_spans[0].scope_spans[0].spans}
        if not ids <= written:
            lines.append(f"missing: partition {m.partition} offset {m.offset}")
    reader.close()
    for w in writers:
        lines.append(str(w.health()))
        lines.append(w.log_tail(3000))
    return "\n".join(lines)


def test_too_old_server_is_refused_naming_both_versions(ch_server):
    url = ch_server.url("otel")
    with pytest.raises(StorageError) as err:
        NativeStorage(parse_storage_url(url))
    assert not err.value.retryable
    needed = ".".join(map(str, MIN_SERVER_VERSION))
    assert "is version 18.16" in str(err.value) and f"needs {needed} or newer" in str(err.value)
    for args in (("writer", "--kafka", "127.0.0.1:9", "--clickhouse", url), ("migrate", "--clickhouse", url)):
        out = subprocess.run(stackeye(*args), capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, out.stderr[-2000:]  # no retry can fix it
        assert "version 18.16" in out.stdout + out.stderr and f"{needed} or newer" in out.stdout + out.stderr


def test_wrong_password_is_a_clear_permanent_error(ch_server):
    with pytest.raises(StorageError, match="Wrong password") as err:
        NativeStorage(parse_storage_url(ch_server.url().replace(ch_server.password, "nope")), min_version=(18, 16))
    assert not err.value.retryable


def test_insert_query_and_errors_over_the_native_protocol(ch_server):
    st = NativeStorage(parse_storage_url(ch_server.url() + "?pool=2&compression=lz4"), min_version=(18, 16),
                       columns={"otel_traces": ("TraceId", "SpanId", "ServiceName", "SpanName", "Duration")})
    st.execute(REDUCED_TRACES)
    req = spans_request("native", 25)
    st.insert_otlp(Signal.TRACES, [req.SerializeToString()], "kafka-otlp_spans-0-0-0")
    res = st.query("SELECT ServiceName, count() AS n FROM otel_traces GROUP BY ServiceName")
    assert res.columns == ["ServiceName", "n"] and res.rows == [["native", 25]]
    with pytest.raises(StorageError, match="readonly") as err:  # queries are read-only by default
        st.query("DROP TABLE otel_traces")
    assert not err.value.retryable
    with pytest.raises(StorageError, match="undecodable") as err:
        st.insert_otlp(Signal.TRACES, [b"\xff\xff garbage"], "t")
    assert not err.value.retryable
    ch_server.stop()
    with pytest.raises(StorageError, match="unreachable") as err:
        st.insert_otlp(Signal.TRACES, [req.SerializeToString()], "t2")
    assert err.value.retryable  # the writer retries these
    ch_server.start()
    st.insert_otlp(Signal.TRACES, [spans_request("native", 5).SerializeToString()], "t2")  # the pool reconnects
    assert st.query("SELECT count() FROM otel_traces").rows == [[30]]
    st.close()


def test_clickhouse_down_then_back_the_writer_waits_and_catches_up(kafka, ch_server, procs):
    _client(ch_server).execute(REDUCED_TRACES)
    writer = procs("native-writer", native_writer_args(kafka, ch_server.url()))
    first = _produce(kafka, 20)
    assert _wait_rows(ch_server, first)[1] == first
    ch_server.stop()
    second = _produce(kafka, 30)  # Kafka holds these while ClickHouse is away
    def not_ok():
        health = writer.health()
        return health if health["status"] != "ok" else None

    health = wait_until(not_ok, timeout=30, interval=0.2, message="the writer still reports ok with ClickHouse down")
    assert health["status"] == "degraded" and "unreachable" in health["last_error"]
    ch_server.start()
    final, distinct, raw = _wait_rows(ch_server, first + second, timeout=180)  # a restarted 18.16 under load is slow
    assert (final, distinct) == (first + second, first + second), writer.log_tail()
    wait_until(lambda: writer.health()["status"] == "ok", timeout=10, interval=0.2,
               message=lambda: f"the writer did not report ok again: {writer.health()}")


def test_two_writers_share_the_partitions_one_killed_mid_stream_counts_exact(kafka, ch_server, procs):
    _client(ch_server).execute(REDUCED_TRACES)
    a = procs("writer-a", native_writer_args(kafka, ch_server.url()))
    b = procs("writer-b", native_writer_args(kafka, ch_server.url()))
    total = {}
    producer = threading.Thread(target=lambda: total.setdefault("n", _produce(kafka, 150, pause_s=0.02)))
    producer.start()
    wait_until(lambda: a.health()["written_items"] >= 100 and b.health()["written_items"] >= 100,  # both got partitions
               timeout=60, message=lambda: f"not both writers wrote 100 spans: {a.health()} {b.health()}")
    a.kill9()  # mid-stream: no chance to commit what it inserted
    a2 = procs("writer-a2", native_writer_args(kafka, ch_server.url()))
    producer.join(60)
    final, distinct, raw = _wait_rows(ch_server, total["n"], timeout=60)
    assert distinct == total["n"], _diagnose(kafka, ch_server, a2, b)  # nothing lost
    assert final == total["n"], raw  # nothing twice
    print(f"rows inserted {raw}, of which replays collapsed by FINAL: {raw - final}")
    assert a2.proc.poll() is None and b.proc.poll() is None
