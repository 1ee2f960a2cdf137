"""Batch intents: the offset range of each batch, announced on the intent topic before its insert.

A writer that takes over a partition after a crash reads the last intent of that partition: if it
starts at the committed offset, the replayed batch ends exactly where the lost one did, so it
carries the same token and ClickHouse drops the duplicate insert. (Offset-commit metadata would be
the natural place for this, but not every broker keeps it.)

One message per batch, ``"<first>-<last>"`` keyed by ``<group>/<topic>/<partition>``, on intent
partition ``partition % intent partitions``.
"""
from __future__ import annotations

import time

from stackeye.collector.queue.kafka_client import Producer, unavailable
from stackeye.collector.queue.kafka_config import KafkaConfig


class IntentLog:
    def __init__(self, config: KafkaConfig, producer: Producer):
        self.config = config
        self.producer = producer
        self._reader = None  # a group-less consumer, created on the first lookup

    def _key(self, tp) -> bytes:
        return f"{self.config.group_id}/{tp.topic}/{tp.partition}".encode()

    def _partitions(self) -> int:
        producer = self.producer.get()
        try:
            parts = producer.partitions_for(self.config.intent_topic)
        except Exception as exc:  # no metadata within max_block_ms
            raise unavailable(self.config, f"cannot read the partitions of {self.config.intent_topic}", exc) from None
        return max(1, len(parts or ()))

    def write(self, tp, first: int, last: int) -> None:
        """Announce that the batch ``first``..``last`` of ``tp`` is about to be inserted (acked by all replicas)."""
        self.producer.send_sync(self.config.intent_topic, f"{first}-{last}".encode(), key=self._key(tp),
                                partition=tp.partition % self._partitions())

    def lookup(self, tp, tail: int = 64):
        """The last (first, last) announced for ``tp`` among the intent partition's last ``tail`` messages, or None."""
        from kafka import KafkaConsumer, TopicPartition

        if self._reader is None:
            self._reader = KafkaConsumer(bootstrap_servers=list(self.config.brokers), group_id=None,
                                         enable_auto_commit=False, client_id=self.config.client_id)
        reader = self._reader
        itp = TopicPartition(self.config.intent_topic, tp.partition % self._partitions())
        key = self._key(tp)
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
            raise unavailable(self.config, "cannot read batch intents", exc) from None

    def close(self) -> None:
        if self._reader is not None:
            try:
                self._reader.close()
            except Exception:
                pass
