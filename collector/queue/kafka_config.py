"""The settings of the Kafka queue (cluster mode), and the parsers of ``--kafka`` and ``--topics``."""
from __future__ import annotations

import dataclasses
import re
from typing import Mapping

from stackeye.core.address import AddressError, parse_address
from stackeye.core.signals import Signal

# Defaults (each KafkaConfig field documents its own).
DEFAULT_TOPICS: Mapping[Signal, str] = {Signal.TRACES: "otlp_spans", Signal.METRICS: "otlp_metrics", Signal.LOGS: "otlp_logs"}
DEFAULT_GROUP = "stackeye-writer"
DEFAULT_DEAD_LETTER_TOPIC = "otlp_dead_letter"
DEFAULT_INTENT_TOPIC = "otlp_writer_intents"
DEFAULT_MAX_MESSAGE_BYTES = 1_000_000  # Kafka's default message.max.bytes is 1 MiB incl. overhead


_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


class KafkaConfigError(ValueError):
    """Bad --kafka / --topics value: the message says what a good one looks like."""


def parse_brokers(text: str) -> tuple[str, ...]:
    """``"k1:9092,k2:9092"`` (a ``kafka://`` prefix is accepted) → ``("k1:9092", "k2:9092")``."""
    if not text or not text.strip():
        raise KafkaConfigError("empty --kafka: expected host:port[,host:port…], e.g. kafka1:9092,kafka2:9092")
    out = []
    for part in text.split(","):
        part = part.strip()
        if part.startswith("kafka://"):
            part = part[len("kafka://"):].rstrip("/")
        try:
            out.append(str(parse_address(part, listen=False)))
        except AddressError as exc:
            raise KafkaConfigError(
                f"bad Kafka broker {part!r} in --kafka {text!r} ({exc}): expected host:port[,host:port…], "
                "e.g. kafka1:9092,kafka2:9092"
            ) from None
    return tuple(out)


def parse_topics(text: str) -> dict[Signal, str]:
    """``"traces=a,metrics=b,logs=c"`` (any subset; the rest keep their defaults)."""
    topics = dict(DEFAULT_TOPICS)
    if not text:
        return topics
    for part in text.split(","):
        name, sep, topic = part.partition("=")
        if not sep:
            raise KafkaConfigError(f"bad --topics entry {part!r}: expected traces=NAME,metrics=NAME,logs=NAME")
        try:
            signal = Signal.parse({"spans": "traces"}.get(name.strip(), name.strip()))
        except ValueError as exc:
            raise KafkaConfigError(f"bad --topics entry {part!r}: {exc}") from None
        topics[signal] = topic.strip()
    return topics


@dataclasses.dataclass(frozen=True)
class KafkaConfig:
    brokers: tuple[str, ...]  # bootstrap servers, host:port
    topics: Mapping[Signal, str] = dataclasses.field(default_factory=lambda: dict(DEFAULT_TOPICS))  # one topic per signal
    group_id: str = DEFAULT_GROUP  # writers sharing partitions
    dead_letter_topic: str = DEFAULT_DEAD_LETTER_TOPIC  # undecodable records, with the reason in a header
    intent_topic: str = DEFAULT_INTENT_TOPIC  # batch ranges written before each insert (replay → same token)
    partitions: int = 6  # partitions of topics stackeye creates when they are missing
    create_topics: bool = True  # create missing topics at start (production clusters usually pre-create them)
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES  # larger requests are split by resource/scope/items
    produce_timeout_s: float = 10.0  # put() waits this long for the acks, then raises QueueUnavailable
    linger_ms: int = 5  # producer batching delay
    batch_size: int = 1 << 20  # producer batch bytes per partition
    compression: str | None = None  # producer compression: None, "gzip" (lz4/zstd need their Python packages)
    client_id: str = "stackeye"
    # Consumer group timings: with these a join takes ≈ 3 s instead of ≈ 23 s with kafka-python's defaults.
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 1000
    max_poll_interval_ms: int = 10000

    def validate(self) -> "KafkaConfig":
        if not self.brokers:
            raise KafkaConfigError("no Kafka brokers given")
        for name in (*self.topics.values(), self.dead_letter_topic, self.intent_topic):
            if not _TOPIC_NAME.match(name):
                raise KafkaConfigError(f"bad Kafka topic name {name!r}: letters, digits, '.', '_' and '-' only")
        if len(set(self.topics.values())) != len(self.topics):
            raise KafkaConfigError(f"each signal needs its own topic, got {dict(self.topics)}")
        if self.max_message_bytes < 64 * 1024:
            raise KafkaConfigError(f"max_message_bytes must be at least 64 KiB, got {self.max_message_bytes}")
        if self.partitions < 1 or self.produce_timeout_s <= 0:
            raise KafkaConfigError("partitions must be >= 1 and produce_timeout_s > 0")
        return self
