"""The Kafka clients a :class:`~stackeye.collector.queue.kafka.KafkaQueue` produces with: one
producer (``acks=all``, created on first use, replaced after a timeout), the admin client that
creates missing topics, and the one error every Kafka failure becomes (:func:`unavailable`).
"""
from __future__ import annotations

import logging
import threading

from stackeye.collector.queue.base import QueueUnavailable
from stackeye.collector.queue.kafka_config import KafkaConfig

log = logging.getLogger("stackeye.queue.kafka")

HEADER_ROOM = 4096  # record headers and batch framing, kept free under max_message_bytes


def unavailable(config: KafkaConfig, what: str, exc: BaseException) -> QueueUnavailable:
    return QueueUnavailable(
        f"Kafka at {','.join(config.brokers)} is unavailable ({what}: {type(exc).__name__}: {exc}); nothing was "
        "acknowledged, retry later"
    )


class Producer:
    """The queue's one KafkaProducer, thread-safe: created on first use (a writer that never
    produces never connects), dropped after a send timed out (see :meth:`reset`)."""

    def __init__(self, config: KafkaConfig):
        self.config = config
        self._lock = threading.Lock()
        self._producer = None
        self._closed = False

    def get(self):
        from kafka import KafkaProducer

        with self._lock:
            if self._closed:
                raise QueueUnavailable("the Kafka queue is closed (shutting down); retry later")
            if self._producer is None:
                timeout_ms = int(self.config.produce_timeout_s * 1000)
                # kafka-python wants delivery_timeout_ms > linger_ms + request_timeout_ms
                request_ms = max(100, timeout_ms - self.config.linger_ms - 100)
                try:
                    self._producer = KafkaProducer(
                        bootstrap_servers=list(self.config.brokers),
                        client_id=self.config.client_id,
                        acks="all",
                        linger_ms=self.config.linger_ms,
                        batch_size=self.config.batch_size,
                        max_request_size=self.config.max_message_bytes,
                        compression_type=self.config.compression,
                        request_timeout_ms=request_ms,
                        delivery_timeout_ms=max(timeout_ms, request_ms + self.config.linger_ms + 1),
                        max_block_ms=timeout_ms,
                        bootstrap_timeout_ms=timeout_ms,
                        reconnect_backoff_max_ms=2000,
                    )
                except Exception as exc:
                    raise unavailable(self.config, "cannot connect", exc) from None
            return self._producer

    def reset(self, failed) -> None:
        """Drop a producer whose sends timed out: its expired batches would stall the idempotent
        sequence. The next put connects afresh."""
        with self._lock:
            if self._producer is not failed:
                return
            self._producer = None
        threading.Thread(target=lambda: _quiet_close(failed), name="kafka-producer-close", daemon=True).start()

    def send_sync(self, topic: str, value: bytes, *, key: bytes | None = None, partition: int | None = None,
                  headers: list | None = None) -> None:
        """Produce one message and wait for its acknowledgement (QueueUnavailable if none comes)."""
        from kafka.errors import KafkaError

        producer = self.get()
        try:
            producer.send(topic, value=value, key=key, partition=partition, headers=headers or []).get(
                timeout=self.config.produce_timeout_s)
        except KafkaError as exc:
            self.reset(producer)
            raise unavailable(self.config, f"cannot produce to {topic}", exc) from None

    def close(self) -> None:
        with self._lock:
            producer, self._producer, self._closed = self._producer, None, True
        if producer is not None:
            try:
                producer.close(timeout=self.config.produce_timeout_s)
            except Exception:
                pass


def create_missing_topics(config: KafkaConfig) -> None:
    """Create the signal, dead-letter and intent topics that are missing."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    timeout_ms = int(config.produce_timeout_s * 1000)
    try:
        admin = KafkaAdminClient(bootstrap_servers=list(config.brokers), client_id=config.client_id,
                                 request_timeout_ms=timeout_ms, bootstrap_timeout_ms=timeout_ms)
    except Exception as exc:
        raise unavailable(config, "cannot connect", exc) from None
    try:
        existing = set(admin.list_topics())
        wanted = [*config.topics.values(), config.dead_letter_topic, config.intent_topic]
        new = [NewTopic(t, config.partitions, 1) for t in wanted if t not in existing]
        if new:
            try:
                admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass
            log.info("created Kafka topics %s", ", ".join(t.name for t in new))
    except QueueUnavailable:
        raise
    except Exception as exc:
        raise unavailable(config, "cannot create topics", exc) from None
    finally:
        admin.close()


def _quiet_close(client) -> None:
    try:
        client.close(timeout=0)
    except Exception:
        pass
