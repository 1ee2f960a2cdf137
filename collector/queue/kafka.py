"""Kafka behind the :class:`~stackeye.collector.queue.base.Queue` interface (cluster mode).

Collectors ``put`` each OTLP request as its protobuf bytes (``ExportTraceServiceRequest`` …, what
the OpenTelemetry Collector's Kafka exporter writes with ``otlp_proto`` encoding) to one topic per
signal, with the envelope in record headers; ``put`` returns only after every replica acked
(``acks=all``). Writers ``read`` in a consumer group and ``commit`` offsets only after the storage
confirmed the insert.

Exactly-once into ClickHouse: a batch is a contiguous offset range of *one* partition and its
token is ``kafka-<topic>-<partition>-<first>-<last>``. Before a batch is handed out, its range is
written to the intent topic (``otlp_writer_intents``). A writer that takes over a partition after a
crash reads the last intent: if it starts at the committed offset, the replayed batch ends exactly
where the lost one did, so it carries the same token and ClickHouse drops the duplicate insert.
(Offset-commit metadata would be the natural place for this, but not every broker keeps it.)

A record that does not decode as its signal's request goes to the dead-letter topic with the
reason and its source position in headers; the partition moves on.

Usage::

    q = KafkaQueue(KafkaConfig(brokers=parse_brokers("k1:9092,k2:9092")))
    q.put([record])                                   # collector side
    batch = q.read(10_000, 16 << 20, max_wait_s=1.0)  # writer side
    storage.insert_otlp(signal, payloads, batch.token); q.commit(batch)
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Iterable, Sequence

from stackeye.collector.queue.base import Batch, QueueFull, QueueUnavailable, Record
from stackeye.collector.queue.kafka_config import KafkaConfig
from stackeye.core.signals import Signal, count_items

log = logging.getLogger("stackeye.queue.kafka")

_HEADER_ROOM = 4096  # record headers and batch framing, kept free under max_message_bytes
_POLL_ALL = 1 << 30  # poll()'s max_records: all the records the fetcher has (see _poll)
H_TENANT, H_AGENT, H_RECEIVED, H_ITEMS = "stackeye.tenant", "stackeye.agent_id", "stackeye.received_ns", "stackeye.items"
H_DLQ_REASON, H_DLQ_SOURCE = "stackeye.dlq.reason", "stackeye.dlq.source"


class RecordTooLarge(QueueFull):
    """One item (a single span, log record or data point) is larger than Kafka's message size.
    A :class:`QueueFull` so that ingest answers RESOURCE_EXHAUSTED (HTTP 413/503) with this message."""

    reason = "too_large"  # the rejected-requests counter's label


class KafkaQueue:
    """A :class:`Queue` over Kafka. The producer and the consumer are created on first use, so a
    collector (put only) never joins the writers' group and a writer only produces intents and
    dead letters."""

    def __init__(self, config: KafkaConfig):
        self.config = config.validate()
        self._signal_of = {t: s for s, t in config.topics.items()}
        self._plock = threading.Lock()
        self._producer = None
        self._consumer = None
        self._intent_reader = None
        self._topics_ready = False
        self._buf: dict = collections.defaultdict(collections.deque)  # TopicPartition -> deque[ConsumerRecord]
        self._buf_bytes: dict = collections.defaultdict(int)
        self._since: dict = {}  # TopicPartition -> when its oldest buffered record arrived here
        self._expect: dict = {}  # TopicPartition -> next offset this partition must deliver
        self._reseeked: set = set()
        self._reposition: set = set()  # assigned partitions to seek back to their committed offset
        self._inflight: dict = {}  # TopicPartition -> (first, last) handed out, not committed
        self._intents: dict = {}  # TopicPartition -> (first, last) | None, looked up once per assignment
        self._paused: set = set()
        self._rr = 0
        self._limits = (10_000, 16 << 20)
        self._max_wait = 1.0
        self.dead_lettered = 0
        self._lag = (0, 0)
        self.partitions: dict = {}  # per-partition state for /api/v1/health, refreshed with the lag
        self._lag_at = 0.0
        self._closed = False

    # -- plumbing --------------------------------------------------------------------------------
    def _where(self) -> str:
        return ",".join(self.config.brokers)

    def _unavailable(self, what: str, exc: BaseException) -> QueueUnavailable:
        return QueueUnavailable(
            f"Kafka at {self._where()} is unavailable ({what}: {type(exc).__name__}: {exc}); nothing was "
            "acknowledged, retry later"
        )

    def _get_producer(self):
        from kafka import KafkaProducer

        with self._plock:
            if self._producer is None:
                timeout_ms = int(self.config.produce_timeout_s * 1000)
                try:
                    self._producer = KafkaProducer(
                        bootstrap_servers=list(self.config.brokers),
                        client_id=self.config.client_id,
                        acks="all",
                        linger_ms=self.config.linger_ms,
                        batch_size=self.config.batch_size,
                        max_request_size=self.config.max_message_bytes,
                        compression_type=self.config.compression,
                        request_timeout_ms=max(1000, timeout_ms - self.config.linger_ms - 100),
                        delivery_timeout_ms=timeout_ms,
                        max_block_ms=timeout_ms,
                        bootstrap_timeout_ms=timeout_ms,
                        reconnect_backoff_max_ms=2000,
                    )
                except Exception as exc:
                    raise self._unavailable("cannot connect", exc) from None
            return self._producer

    def ensure_topics(self) -> None:
        """Create the signal, dead-letter and intent topics that are missing (config.create_topics)."""
        if self._topics_ready or not self.config.create_topics:
            return
        from kafka import KafkaAdminClient
        from kafka.admin import NewTopic
        from kafka.errors import TopicAlreadyExistsError

        timeout_ms = int(self.config.produce_timeout_s * 1000)
        try:
            admin = KafkaAdminClient(bootstrap_servers=list(self.config.brokers), client_id=self.config.client_id,
                                     request_timeout_ms=timeout_ms, bootstrap_timeout_ms=timeout_ms)
        except Exception as exc:
            raise self._unavailable("cannot connect", exc) from None
        try:
            existing = set(admin.list_topics())
            wanted = [*self.config.topics.values(), self.config.dead_letter_topic, self.config.intent_topic]
            new = [NewTopic(t, self.config.partitions, 1) for t in wanted if t not in existing]
            if new:
                try:
                    admin.create_topics(new)
                except TopicAlreadyExistsError:
                    pass
                log.info("created Kafka topics %s", ", ".join(t.name for t in new))
        except QueueUnavailable:
            raise
        except Exception as exc:
            raise self._unavailable("cannot create topics", exc) from None
        finally:
            admin.close()
        self._topics_ready = True

    # -- producing -------------------------------------------------------------------------------
    def put(self, records: Sequence[Record]) -> None:
        from kafka.errors import KafkaError, MessageSizeTooLargeError

        if not records:
            return
        self.ensure_topics()
        producer = self._get_producer()
        deadline = time.monotonic() + self.config.produce_timeout_s
        futures = []
        try:
            for rec in records:
                topic = self.config.topics[rec.signal]
                for payload, items in split_to_fit(rec, self.config.max_message_bytes - _HEADER_ROOM):
                    headers = [
                        (H_TENANT, rec.tenant.encode()),
                        (H_AGENT, rec.agent_id.encode()),
                        (H_RECEIVED, str(rec.received_ns).encode()),
                        (H_ITEMS, str(items).encode()),
                    ]
                    futures.append(producer.send(topic, value=payload, headers=headers))
            for fut in futures:
                fut.get(timeout=max(0.01, deadline - time.monotonic()))
        except MessageSizeTooLargeError as exc:
            raise RecordTooLarge(f"a request does not fit Kafka's message size even after splitting: {exc}") from None
        except (KafkaError, TimeoutError) as exc:
            self._reset_producer(producer)
            raise self._unavailable(f"no acknowledgement within {self.config.produce_timeout_s:g}s", exc) from None

    def _reset_producer(self, failed) -> None:
        """Drop a producer whose sends timed out: its expired batches would stall the idempotent
        sequence. The next put connects afresh."""
        with self._plock:
            if self._producer is not failed:
                return
            self._producer = None
        threading.Thread(target=lambda: _quiet_close(failed), name="kafka-producer-close", daemon=True).start()

    def _produce_sync(self, topic: str, value: bytes, *, key: bytes | None = None, partition: int | None = None,
                      headers: list | None = None) -> None:
        from kafka.errors import KafkaError

        producer = self._get_producer()
        try:
            producer.send(topic, value=value, key=key, partition=partition, headers=headers or []).get(
                timeout=self.config.produce_timeout_s)
        except KafkaError as exc:
            self._reset_producer(producer)
            raise self._unavailable(f"cannot produce to {topic}", exc) from None

    def dead_letter(self, record: Record, reason: str, source: str = "") -> None:
        """Send one record to the dead-letter topic with ``reason`` (e.g. a poison record the storage refused)."""
        headers = [
            (H_TENANT, record.tenant.encode()), (H_AGENT, record.agent_id.encode()),
            (H_RECEIVED, str(record.received_ns).encode()), (H_ITEMS, str(record.items).encode()),
            ("stackeye.signal", record.signal.name.lower().encode()),
            (H_DLQ_REASON, reason.encode()[:4000]), (H_DLQ_SOURCE, source.encode()),
        ]
        self._produce_sync(self.config.dead_letter_topic, record.payload, headers=headers)
        self.dead_lettered += 1
        log.warning("dead-lettered a %s record from %s: %s", record.signal.name.lower(), source or "?", reason)

    # -- consuming -------------------------------------------------------------------------------
    def _get_consumer(self):
        from kafka import KafkaConsumer
        from kafka.consumer.subscription_state import ConsumerRebalanceListener

        if self._consumer is not None:
            return self._consumer
        self.ensure_topics()
        queue = self

        class _Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                queue._forget(revoked)
                queue._reposition.difference_update(revoked)

            def on_partitions_assigned(self, assigned):
                # Restart every assigned partition from its committed offset with nothing buffered.
                # kafka-python keeps the position and the paused flag of partitions that stay
                # assigned: the expected-offset check seeks those back, and they are resumed here.
                queue._forget(assigned)
                if assigned:
                    queue._consumer.resume(*assigned)
                queue._reposition.update(assigned)  # seek to the committed offsets after this poll
                log.info("assigned %s", ", ".join(f"{tp.topic}/{tp.partition}" for tp in sorted(assigned)) or "nothing")

        timeout_ms = int(self.config.produce_timeout_s * 1000)
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=list(self.config.brokers),
                client_id=self.config.client_id,
                group_id=self.config.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_partition_fetch_bytes=max(1 << 20, self.config.max_message_bytes + _HEADER_ROOM),
                fetch_max_bytes=max(64 << 20, 2 * self.config.max_message_bytes),
                session_timeout_ms=self.config.session_timeout_ms,
                heartbeat_interval_ms=self.config.heartbeat_interval_ms,
                max_poll_interval_ms=self.config.max_poll_interval_ms,
                request_timeout_ms=max(timeout_ms, self.config.session_timeout_ms + 1000),
                bootstrap_timeout_ms=timeout_ms,
                reconnect_backoff_max_ms=2000,
            )
            consumer.subscribe(topics=sorted(self.config.topics.values()), listener=_Listener())
        except Exception as exc:
            raise self._unavailable("cannot join the consumer group", exc) from None
        self._consumer = consumer
        return consumer

    def _forget(self, partitions: Iterable) -> None:
        for tp in partitions:
            self._buf.pop(tp, None)
            self._buf_bytes.pop(tp, None)
            self._since.pop(tp, None)
            self._expect.pop(tp, None)
            self._reseeked.discard(tp)
            self._inflight.pop(tp, None)
            self._intents.pop(tp, None)
            self._paused.discard(tp)

    def _poll(self, timeout_s: float) -> None:
        from kafka.errors import KafkaError

        consumer = self._get_consumer()
        try:
            # Take everything the fetcher holds (_POLL_ALL), never part of a fetched batch: a
            # partition paused below while kafka-python still holds some of its parsed records gets
            # them parked, and kafka-python 3.0 only un-parks them when no other partition's records
            # are in line; until then it never fetches that partition again, resumed or seeked
            # (one partition stopped for good, rebalance or not). Memory stays bounded by the
            # fetch sizes: whatever we take here the fetcher held anyway, and full partitions are
            # paused right after.
            got = consumer.poll(timeout_ms=max(1, int(timeout_s * 1000)), max_records=_POLL_ALL)
        except KafkaError as exc:
            raise self._unavailable("poll failed", exc) from None
        assigned = consumer.assignment()
        for tp in list(self._reposition):
            # kafka-python keeps the fetch position of a partition that stays assigned across a
            # rebalance, past the records we just dropped: go back to the committed offset.
            got.pop(tp, None)
            if tp not in assigned:
                self._reposition.discard(tp)
                continue
            try:
                start = self._start_offset(consumer, tp)
            except Exception as exc:  # the coordinator is moving: try again after the next poll
                log.warning("cannot read the committed offset of %s/%d yet: %s", tp.topic, tp.partition, exc)
                continue
            consumer.seek(tp, start)
            self._expect[tp] = start
            self._reposition.discard(tp)
        for tp, msgs in got.items():
            if tp not in assigned:
                continue
            buf = self._buf[tp]
            if not buf:
                self._since[tp] = time.monotonic()
            expect = self._expect.get(tp)
            if expect is None:
                expect = self._expect[tp] = self._start_offset(consumer, tp)
            for m in msgs:
                if m.offset < expect:
                    continue  # re-fetched after a seek
                if m.offset > expect and tp not in self._reseeked:
                    # Records from before a rebalance, past the committed offset: never skip ahead.
                    log.warning("%s/%d: got offset %d, expected %d; fetching again from %d",
                                tp.topic, tp.partition, m.offset, expect, expect)
                    consumer.seek(tp, expect)
                    self._reseeked.add(tp)
                    break
                self._reseeked.discard(tp)
                buf.append(m)
                self._buf_bytes[tp] += len(m.value or b"")
                expect = self._expect[tp] = m.offset + 1
        # Bound memory: stop fetching partitions holding two batches' worth; resume when drained.
        max_records, max_bytes = self._limits
        for tp in list(self._buf):
            full = len(self._buf[tp]) >= 2 * max_records or self._buf_bytes[tp] >= 2 * max_bytes
            if full and tp not in self._paused and tp in assigned:
                consumer.pause(tp)
                self._paused.add(tp)
            elif not full and tp in self._paused:
                if tp in assigned:
                    consumer.resume(tp)
                self._paused.discard(tp)

    def _start_offset(self, consumer, tp) -> int:
        """Where this partition's records must start after an assignment: the committed offset."""
        committed = consumer.committed(tp)
        if committed is None:
            committed = consumer.beginning_offsets([tp])[tp]
        return committed

    def read(self, max_records: int, max_bytes: int, max_wait_s: float) -> Batch | None:
        self._limits = (max(1, max_records), max(1, max_bytes))
        self._max_wait = max_wait_s
        deadline = time.monotonic() + max_wait_s
        self._refresh_lag(force=max_wait_s >= 1.0)
        while True:
            final = time.monotonic() >= deadline
            tp = self._ready_partition(final)
            if tp is not None:
                batch = self._take(tp)
                if batch is not None:
                    return batch
                continue  # every record was poison: committed, look again
            if final:
                return None
            self._poll(min(0.5, max(0.001, deadline - time.monotonic())))

    def _ready_partition(self, final: bool):
        max_records, max_bytes = self._limits
        candidates = [tp for tp, buf in self._buf.items() if buf and tp not in self._inflight]
        if not candidates:
            return None
        candidates.sort()
        self._rr += 1
        candidates = candidates[self._rr % len(candidates):] + candidates[: self._rr % len(candidates)]
        for tp in candidates:
            buf = self._buf[tp]
            intent = self._intent(tp, buf[0].offset)
            if intent is not None:
                if buf[-1].offset >= intent[1] or (final and self._position(tp) > intent[1]):
                    return tp
                continue
            waited = time.monotonic() - self._since.get(tp, 0.0) >= self._max_wait
            if len(buf) >= max_records or self._buf_bytes[tp] >= max_bytes or final or waited:
                return tp
        return None

    def _position(self, tp) -> int:
        try:
            return self._consumer.position(tp, timeout_ms=1000)
        except Exception:
            return -1

    def _take(self, tp) -> Batch | None:
        max_records, max_bytes = self._limits
        buf = self._buf[tp]
        first = buf[0].offset
        intent = self._intent(tp, first)
        msgs, nbytes = [], 0
        while buf:
            m = buf[0]
            if intent is not None:
                if m.offset > intent[1]:
                    break
            elif msgs and (len(msgs) >= max_records or nbytes + len(m.value or b"") > max_bytes):
                break
            buf.popleft()
            msgs.append(m)
            nbytes += len(m.value or b"")
        self._buf_bytes[tp] -= nbytes
        last = intent[1] if intent is not None else msgs[-1].offset
        self._intents[tp] = None  # the intent served its one replay
        records = []
        for m in msgs:
            rec, reason = self._decode(tp, m)
            if rec is None:
                env = _envelope(m.headers)
                poison = Record(self._signal_of[tp.topic], m.value or b"", env.get("items", 0), env.get("received_ns", 0),
                                env.get("tenant", "default"), env.get("agent_id", ""))
                self.dead_letter(poison, reason, source=f"{tp.topic}/{tp.partition}/{m.offset}")
            else:
                records.append(rec)
        batch = Batch(records, token=f"kafka-{tp.topic}-{tp.partition}-{first}-{last}", position=(tp, first, last))
        self._inflight[tp] = (first, last)
        if not records:
            self.commit(batch)
            return None
        return batch

    def _decode(self, tp, m) -> tuple[Record | None, str]:
        signal = self._signal_of[tp.topic]
        value = m.value or b""
        try:
            request = signal.request_type.FromString(value)
        except Exception as exc:
            return None, f"not a valid {signal.request_type.DESCRIPTOR.name}: {exc}"
        env = _envelope(m.headers)
        items = env.pop("items", None)
        if items is None:
            items = count_items(signal, request)
        if not env.get("received_ns"):
            env["received_ns"] = int(m.timestamp) * 1_000_000 if m.timestamp and m.timestamp > 0 else 0
        return Record(signal, value, items, **env), ""

    def begin(self, batch: Batch) -> None:
        """Announce the batch's offset range on the intent topic before it is inserted: whoever
        replays this partition after a crash ends the batch at the same offset (same token)."""
        tp, first, last = batch.position
        delay, deadline = 0.2, time.monotonic() + 6 * self.config.produce_timeout_s
        while True:
            try:
                self._write_intent(tp, first, last)
                return
            except QueueUnavailable as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("%s; retrying in %.1fs before inserting %s", exc, delay, batch.token)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def quarantine(self, record: Record, reason: str) -> str:
        """A record the storage refused for good goes to the dead-letter topic."""
        self.dead_letter(record, reason, source="writer")
        return f"kafka topic {self.config.dead_letter_topic}"

    def commit(self, batch: Batch) -> None:
        from kafka.errors import CommitFailedError, KafkaError
        from kafka.structs import OffsetAndMetadata

        tp, first, last = batch.position
        if self._inflight.get(tp) != (first, last):
            log.warning("batch %s is no longer ours (partition reassigned); its replay carries the same token",
                        batch.token)
            return
        del self._inflight[tp]
        try:
            self._consumer.commit({tp: OffsetAndMetadata(last + 1, "", -1)})
        except CommitFailedError as exc:
            log.warning("commit of %s failed after a rebalance (%s); the new owner replays it with the same token",
                        batch.token, exc)
        except KafkaError as exc:
            # Not fatal: the batch is in storage; uncommitted, it is read again after a restart or
            # rebalance and its insert deduplicates (same range, same token).
            log.warning("cannot commit %s (%s: %s); it will be replayed and deduplicated",
                        batch.token, type(exc).__name__, exc)
            self._forget([tp])
            try:
                self._consumer.seek(tp, first)
            except Exception:
                pass

    # -- intents ---------------------------------------------------------------------------------
    def _intent_key(self, tp) -> bytes:
        return f"{self.config.group_id}/{tp.topic}/{tp.partition}".encode()

    def _write_intent(self, tp, first: int, last: int) -> None:
        n = self._intent_partitions()
        self._produce_sync(self.config.intent_topic, f"{first}-{last}".encode(), key=self._intent_key(tp),
                           partition=tp.partition % n)

    def _intent_partitions(self) -> int:
        parts = self._get_producer().partitions_for(self.config.intent_topic)
        return max(1, len(parts or ()))

    def _intent(self, tp, first: int):
        """The range a previous owner announced for the batch starting at ``first``, if any."""
        if tp not in self._intents:
            self._intents[tp] = self._lookup_intent(tp)
        intent = self._intents[tp]
        if intent is not None and intent[0] != first:
            self._intents[tp] = intent = None
        return intent

    def _lookup_intent(self, tp, tail: int = 64):
        from kafka import KafkaConsumer, TopicPartition

        if self._intent_reader is None:
            self._intent_reader = KafkaConsumer(bootstrap_servers=list(self.config.brokers), group_id=None,
                                                enable_auto_commit=False, client_id=self.config.client_id)
        reader = self._intent_reader
        itp = TopicPartition(self.config.intent_topic, tp.partition % self._intent_partitions())
        key = self._intent_key(tp)
        try:
            reader.assign([itp])
            end = reader.end_offsets([itp])[itp]
            if end == 0:
                return None
            reader.seek(itp, max(0, end - tail))
            found = None
            deadline = time.monotonic() + self.config.produce_timeout_s
            while reader.position(itp) < end and time.monotonic() < deadline:
                for msgs in reader.poll(timeout_ms=200).values():
                    for m in msgs:
                        if m.key == key:
                            a, _, b = m.value.decode().partition("-")
                            found = (int(a), int(b))
            return found
        except Exception as exc:
            raise self._unavailable("cannot read batch intents", exc) from None

    # -- the rest of Queue -----------------------------------------------------------------------
    def depth(self) -> tuple[int, int]:
        """(records not yet committed on this writer's partitions, bytes buffered here), as of the
        last read (at most ~5 s old): safe to call from any thread, the consumer is not."""
        return self._lag

    def _refresh_lag(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._lag_at >= 5.0:
            self._lag_at = now
            self._lag = self._compute_depth()
            self.partitions = {
                f"{tp.topic}/{tp.partition}": {
                    "buffered": len(self._buf.get(tp, ())), "next": self._expect.get(tp),
                    "paused": tp in self._paused, "in_flight": self._inflight.get(tp),
                    "intent": self._intents.get(tp),
                }
                for tp in sorted(set(self._buf) | set(self._expect) | set(self._inflight))
            }

    def _compute_depth(self) -> tuple[int, int]:
        buffered = sum(self._buf_bytes.values())
        if self._consumer is None:
            return 0, buffered
        try:
            assigned = list(self._consumer.assignment())
            if not assigned:
                return 0, buffered
            ends = self._consumer.end_offsets(assigned)
            lag = 0
            for tp in assigned:
                committed = self._consumer.committed(tp) or 0
                lag += max(0, ends.get(tp, 0) - committed)
            return lag, buffered
        except Exception:
            return sum(len(b) for b in self._buf.values()), buffered

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for client in (self._consumer, self._intent_reader):
            if client is not None:
                try:
                    client.close()
                except Exception:
                    pass
        if self._producer is not None:
            try:
                self._producer.close(timeout=self.config.produce_timeout_s)
            except Exception:
                pass


def _quiet_close(client) -> None:
    try:
        client.close(timeout=0)
    except Exception:
        pass


def _envelope(headers) -> dict:
    env: dict = {}
    for k, v in headers or ():
        try:
            if k == H_TENANT:
                env["tenant"] = v.decode() or "default"
            elif k == H_AGENT:
                env["agent_id"] = v.decode()
            elif k == H_RECEIVED:
                env["received_ns"] = int(v)
            elif k == H_ITEMS:
                env["items"] = int(v)
        except (ValueError, UnicodeDecodeError):
            continue
    return env


# --- splitting a request that does not fit one Kafka message ------------------------------------
_PATHS = {
    Signal.TRACES: ("resource_spans", "scope_spans", "spans"),
    Signal.LOGS: ("resource_logs", "scope_logs", "log_records"),
    Signal.METRICS: ("resource_metrics", "scope_metrics", "metrics"),
}


def split_to_fit(record: Record, limit: int) -> list[tuple[bytes, int]]:
    """The record's payload as one or more valid requests of at most ``limit`` bytes, with item counts.

    Splits by resource, then scope, then items (each piece keeps its resource and scope), and a
    metric with too many data points into several copies of that metric.
    """
    if len(record.payload) <= limit:
        return [(record.payload, record.items)]
    request = record.signal.request_type.FromString(record.payload)
    out = []
    for piece in _split(record.signal, request, limit):
        out.append((piece.SerializeToString(), count_items(record.signal, piece)))
    return out


def _leaves(signal: Signal, request) -> list[tuple[int, int, object]]:
    """(resource index, scope index, item) for every item; oversized metrics cut by data points."""
    r_field, s_field, i_field = _PATHS[signal]
    out = []
    for ri, res in enumerate(getattr(request, r_field)):
        for si, scope in enumerate(getattr(res, s_field)):
            for item in getattr(scope, i_field):
                out.append((ri, si, item))
    return out


def _build(signal: Signal, request, leaves) -> object:
    r_field, s_field, i_field = _PATHS[signal]
    new = signal.request_type()
    res_map: dict = {}
    scope_map: dict = {}
    for ri, si, item in leaves:
        if ri not in res_map:
            src = getattr(request, r_field)[ri]
            dst = getattr(new, r_field).add()
            dst.resource.CopyFrom(src.resource)
            dst.schema_url = src.schema_url
            res_map[ri] = dst
        if (ri, si) not in scope_map:
            src = getattr(getattr(request, r_field)[ri], s_field)[si]
            dst = getattr(res_map[ri], s_field).add()
            dst.scope.CopyFrom(src.scope)
            dst.schema_url = src.schema_url
            scope_map[(ri, si)] = dst
        getattr(scope_map[(ri, si)], i_field).append(item)
    return new


def _split_metric(metric, limit: int) -> list:
    kind = metric.WhichOneof("data")
    points = list(getattr(metric, kind).data_points) if kind else []
    if len(points) <= 1:
        raise RecordTooLarge(f"metric {metric.name!r} has a data point larger than {limit} bytes")
    half = len(points) // 2
    out = []
    for part in (points[:half], points[half:]):
        m = type(metric)()
        m.CopyFrom(metric)
        del getattr(m, kind).data_points[:]
        getattr(m, kind).data_points.extend(part)
        out.extend([m] if m.ByteSize() <= limit else _split_metric(m, limit))
    return out


def _split(signal: Signal, request, limit: int) -> list:
    leaves = _leaves(signal, request)
    if signal is Signal.METRICS:
        expanded = []
        for ri, si, metric in leaves:
            if metric.ByteSize() > limit // 2:
                expanded.extend((ri, si, m) for m in _split_metric(metric, limit // 2))
            else:
                expanded.append((ri, si, metric))
        leaves = expanded
    pieces, pending = [], [leaves]
    while pending:
        chunk = pending.pop()
        built = _build(signal, request, chunk)
        if built.ByteSize() <= limit:
            pieces.append(built)
        elif len(chunk) <= 1:
            raise RecordTooLarge(
                f"one {signal.item_name[:-1]} is {built.ByteSize()} bytes, over Kafka's message limit of {limit}"
            )
        else:
            half = len(chunk) // 2
            pending.append(chunk[half:])
            pending.append(chunk[:half])
    return pieces
