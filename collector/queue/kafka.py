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

The pieces: :mod:`.kafka_config` (settings), :mod:`.kafka_client` (producer, topic creation, the
QueueUnavailable error), :mod:`.kafka_records` (a Record as a message and back),
:mod:`.kafka_split` (requests over the message size), :mod:`.kafka_intents` (the intent topic),
:mod:`.kafka_partition` (the consumer's state of one partition); this module is the consumer loop
and the Queue interface.

Usage::

    q = KafkaQueue(KafkaConfig(brokers=parse_brokers("k1:9092,k2:9092")))
    q.put([record])                                   # collector side
    batch = q.read(10_000, 16 << 20, max_wait_s=1.0)  # writer side
    storage.insert_otlp(signal, payloads, batch.token); q.commit(batch)
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Iterable, Sequence

from stackeye.collector.queue.base import Batch, QueueUnavailable, Record
from stackeye.collector.queue.kafka_client import HEADER_ROOM, Producer, create_missing_topics, unavailable
from stackeye.collector.queue.kafka_config import KafkaConfig
from stackeye.collector.queue.kafka_intents import IntentLog
from stackeye.collector.queue.kafka_partition import PartitionState
from stackeye.collector.queue.kafka_records import dead_letter_headers, decode, envelope_headers, poison_record
from stackeye.collector.queue.kafka_split import RecordTooLarge, split_to_fit
from stackeye.core.retry import Backoff, Stopped, retry, retry_on

log = logging.getLogger("stackeye.queue.kafka")

_POLL_ALL = 1 << 30  # poll()'s max_records: all the records the fetcher has (see _poll)


class KafkaQueue:
    """A :class:`Queue` over Kafka. The producer and the consumer are created on first use, so a
    collector (put only) never joins the writers' group and a writer only produces intents and
    dead letters."""

    def __init__(self, config: KafkaConfig):
        self.config = config.validate()
        self._signal_of = {t: s for s, t in config.topics.items()}
        self.producer = Producer(self.config)
        self.intents = IntentLog(self.config, self.producer)
        self._consumer = None
        self._topics_ready = False
        self._parts: dict = {}  # TopicPartition -> PartitionState, for the partitions seen since their assignment
        self._rr = 0
        self._limits = (10_000, 16 << 20)
        self._max_wait = 1.0
        self._woken = threading.Event()  # wake(): cut the current read or begin short
        self.dead_lettered = 0
        self._lag = (0, 0)
        self.partitions: dict = {}  # per-partition state for /api/v1/health, refreshed with the lag
        self._lag_at = 0.0
        self._closed = False

    def ensure_topics(self) -> None:
        """Create the signal, dead-letter and intent topics that are missing (config.create_topics)."""
        if self._topics_ready or not self.config.create_topics:
            return
        create_missing_topics(self.config)
        self._topics_ready = True

    # -- producing -------------------------------------------------------------------------------
    def put(self, records: Sequence[Record]) -> None:
        from kafka.errors import KafkaError, MessageSizeTooLargeError

        if not records:
            return
        self.ensure_topics()
        producer = self.producer.get()
        deadline = time.monotonic() + self.config.produce_timeout_s
        futures = []
        try:
            for rec in records:
                topic = self.config.topics[rec.signal]
                for payload, items in split_to_fit(rec, self.config.max_message_bytes - HEADER_ROOM):
                    futures.append(producer.send(topic, value=payload, headers=envelope_headers(rec, items)))
            for fut in futures:
                fut.get(timeout=max(0.01, deadline - time.monotonic()))
        except MessageSizeTooLargeError as exc:
            raise RecordTooLarge(f"a request does not fit Kafka's message size even after splitting: {exc}") from None
        except (KafkaError, TimeoutError) as exc:
            self.producer.reset(producer)
            raise unavailable(self.config, f"no acknowledgement within {self.config.produce_timeout_s:g}s", exc) from None

    def dead_letter(self, record: Record, reason: str, source: str = "") -> None:
        """Send one record to the dead-letter topic with ``reason`` (e.g. a poison record the storage refused)."""
        self.producer.send_sync(self.config.dead_letter_topic, record.payload,
                                headers=dead_letter_headers(record, reason, source))
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

            def on_partitions_assigned(self, assigned):
                # Restart every assigned partition from its committed offset with nothing buffered.
                # kafka-python keeps the position and the paused flag of partitions that stay
                # assigned: the expected-offset check seeks those back, and they are resumed here.
                queue._forget(assigned)
                if assigned:
                    queue._consumer.resume(*assigned)
                for tp in assigned:  # seek to the committed offsets after this poll
                    queue._state(tp).reposition = True
                log.info("assigned %s", ", ".join(f"{tp.topic}/{tp.partition}" for tp in sorted(assigned)) or "nothing")

        timeout_ms = int(self.config.produce_timeout_s * 1000)
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=list(self.config.brokers),
                client_id=self.config.client_id,
                group_id=self.config.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_partition_fetch_bytes=max(1 << 20, self.config.max_message_bytes + HEADER_ROOM),
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
            raise unavailable(self.config, "cannot join the consumer group", exc) from None
        self._consumer = consumer
        return consumer

    def _state(self, tp) -> PartitionState:
        state = self._parts.get(tp)
        if state is None:
            state = self._parts[tp] = PartitionState()
        return state

    def _forget(self, partitions: Iterable) -> None:
        for tp in partitions:
            self._parts.pop(tp, None)

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
            raise unavailable(self.config, "poll failed", exc) from None
        assigned = consumer.assignment()
        for tp in [tp for tp, state in self._parts.items() if state.reposition]:
            # kafka-python keeps the fetch position of a partition that stays assigned across a
            # rebalance, past the records we just dropped: go back to the committed offset.
            got.pop(tp, None)
            state = self._parts[tp]
            if tp not in assigned:
                state.reposition = False
                continue
            try:
                start = self._start_offset(consumer, tp)
            except Exception as exc:  # the coordinator is moving: try again after the next poll
                log.warning("cannot read the committed offset of %s/%d yet: %s", tp.topic, tp.partition, exc)
                continue
            consumer.seek(tp, start)
            state.expect = start
            state.reposition = False
        for tp, msgs in got.items():
            if tp not in assigned:
                continue
            state = self._state(tp)
            if not state.records:
                state.since = time.monotonic()
            expect = state.expect
            if expect is None:
                expect = state.expect = self._start_offset(consumer, tp)
            for m in msgs:
                if m.offset < expect:
                    continue  # re-fetched after a seek
                if m.offset > expect and not state.reseeked:
                    # Records from before a rebalance, past the committed offset: never skip ahead.
                    log.warning("%s/%d: got offset %d, expected %d; fetching again from %d",
                                tp.topic, tp.partition, m.offset, expect, expect)
                    consumer.seek(tp, expect)
                    state.reseeked = True
                    break
                state.reseeked = False
                state.add(m)
                expect = state.expect = m.offset + 1
        # Bound memory: stop fetching partitions holding two batches' worth; resume when drained.
        max_records, max_bytes = self._limits
        for tp, state in list(self._parts.items()):
            full = state.full(max_records, max_bytes)
            if full and not state.paused and tp in assigned:
                consumer.pause(tp)
                state.paused = True
            elif not full and state.paused:
                if tp in assigned:
                    consumer.resume(tp)
                state.paused = False

    def _start_offset(self, consumer, tp) -> int:
        """Where this partition's records must start after an assignment: the committed offset."""
        committed = consumer.committed(tp)
        if committed is None:
            committed = consumer.beginning_offsets([tp])[tp]
        return committed

    def read(self, max_records: int, max_bytes: int, max_wait_s: float) -> Batch | None:
        self._limits = (max(1, max_records), max(1, max_bytes))
        self._max_wait = max_wait_s
        self._woken.clear()
        deadline = time.monotonic() + max_wait_s
        self._refresh_lag(force=max_wait_s >= 1.0)
        while True:
            final = time.monotonic() >= deadline or self._woken.is_set()
            tp = self._ready_partition(final)
            if tp is not None:
                batch = self._take(tp)
                if batch is not None:
                    return batch
                continue  # every record was poison: committed, look again
            if final:
                return None
            self._poll(min(0.5, max(0.001, deadline - time.monotonic())))

    def wake(self) -> None:
        """Make a waiting read return now with what is there, and a begin that is retrying give up
        (the writer is stopping)."""
        self._woken.set()

    def _ready_partition(self, final: bool):
        max_records, max_bytes = self._limits
        candidates = [tp for tp, state in self._parts.items() if state.records and state.inflight is None]
        if not candidates:
            return None
        candidates.sort()
        self._rr += 1
        candidates = candidates[self._rr % len(candidates):] + candidates[: self._rr % len(candidates)]
        for tp in candidates:
            state = self._parts[tp]
            intent = self._intent(tp, state.records[0].offset)
            if intent is not None:
                if state.records[-1].offset >= intent[1] or (final and self._position(tp) > intent[1]):
                    return tp
                continue
            waited = time.monotonic() - state.since >= self._max_wait
            if len(state.records) >= max_records or state.nbytes >= max_bytes or final or waited:
                return tp
        return None

    def _position(self, tp) -> int:
        try:
            return self._consumer.position(tp, timeout_ms=1000)
        except Exception:
            return -1

    def _take(self, tp) -> Batch | None:
        max_records, max_bytes = self._limits
        state = self._parts[tp]
        first = state.records[0].offset
        intent = self._intent(tp, first)
        msgs = state.take(max_records, max_bytes, intent)
        last = intent[1] if intent is not None else msgs[-1].offset
        state.intent = None  # the intent served its one replay
        signal = self._signal_of[tp.topic]
        records = []
        try:
            for m in msgs:
                rec, reason = decode(signal, m)
                if rec is None:
                    self.dead_letter(poison_record(signal, m), reason, source=f"{tp.topic}/{tp.partition}/{m.offset}")
                else:
                    records.append(rec)
        except QueueUnavailable:
            self._fetch_again(tp, first, intent)
            raise
        batch = Batch(records, token=f"kafka-{tp.topic}-{tp.partition}-{first}-{last}", position=(tp, first, last))
        state.inflight = (first, last)
        if not records:
            self.commit(batch)
            return None
        return batch

    def _fetch_again(self, tp, first: int, intent) -> None:
        """Drop what is buffered of ``tp`` and fetch it again from ``first`` (with the intent that
        range was cut by): a batch that could not be handed out is read again, never skipped."""
        state = self._parts[tp]
        state.records.clear()
        state.nbytes = 0
        state.expect, state.reseeked, state.intent = first, False, intent
        self._consumer.seek(tp, first)

    def begin(self, batch: Batch) -> None:
        """Announce the batch's offset range on the intent topic before it is inserted: whoever
        replays this partition after a crash ends the batch at the same offset (same token).
        Retried with backoff for up to 6 produce timeouts, or until :meth:`wake`; then the batch is
        handed out again by the next read."""
        tp, first, last = batch.position

        def retrying(exc, attempt: int, delay: float) -> None:
            log.warning("%s; retrying in %.1fs before inserting %s", exc, delay, batch.token)

        try:
            retry(lambda: self.intents.write(tp, first, last), is_retryable=retry_on(QueueUnavailable),
                  stop=self._woken, policy=Backoff(0.2, 5.0), deadline_s=6 * self.config.produce_timeout_s,
                  on_retry=retrying)
        except Stopped as stopped:
            self._hand_out_again(batch)
            raise stopped.last_error from None
        except Exception:
            self._hand_out_again(batch)
            raise

    def _hand_out_again(self, batch: Batch) -> None:
        """A batch that could not begin is read again, the same range (its intent may have reached
        Kafka even though no acknowledgement came back)."""
        tp, first, last = batch.position
        state = self._parts.get(tp)
        if state is None or state.inflight != (first, last):
            return  # reassigned meanwhile: the new owner replays it
        state.inflight = None
        self._fetch_again(tp, first, (first, last))

    def quarantine(self, record: Record, reason: str) -> str:
        """A record the storage refused for good goes to the dead-letter topic."""
        self.dead_letter(record, reason, source="writer")
        return f"kafka topic {self.config.dead_letter_topic}"

    def commit(self, batch: Batch) -> None:
        from kafka.errors import CommitFailedError, KafkaError
        from kafka.structs import OffsetAndMetadata

        tp, first, last = batch.position
        state = self._parts.get(tp)
        if state is None or state.inflight != (first, last):
            log.warning("batch %s is no longer ours (partition reassigned); its replay carries the same token",
                        batch.token)
            return
        state.inflight = None
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

    def _intent(self, tp, first: int):
        """The range a previous owner announced for the batch starting at ``first``, if any."""
        state = self._parts[tp]
        if not state.intent_known:
            state.intent = self.intents.lookup(tp)
            state.intent_known = True
        intent = state.intent
        if intent is not None and intent[0] != first:
            state.intent = intent = None
        return intent

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
            self.partitions = {f"{tp.topic}/{tp.partition}": self._parts[tp].health() for tp in sorted(self._parts)}

    def _compute_depth(self) -> tuple[int, int]:
        buffered = sum(state.nbytes for state in self._parts.values())
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
            return sum(len(state.records) for state in self._parts.values()), buffered

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._woken.set()
        if self._consumer is not None:
            try:
                self._consumer.close()
            except Exception:
                pass
        self.intents.close()
        self.producer.close()
