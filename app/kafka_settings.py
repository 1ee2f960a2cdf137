"""The settings ``stackeye collector`` and ``stackeye writer`` share: the Kafka cluster and the status port."""
from __future__ import annotations

import dataclasses

from stackeye.collector.queue.kafka_config import (
    DEFAULT_MAX_MESSAGE_BYTES,
    KafkaConfig,
    KafkaConfigError,
    parse_brokers,
    parse_topics,
)
from stackeye.core.config import ConfigError, setting
from stackeye.core.units import LISTEN_OR_OFF, SIZE


@dataclasses.dataclass(frozen=True)
class KafkaSettings:
    """Mixed into the collector's and the writer's config dataclasses (fields come first)."""

    kafka: str = setting("", "bootstrap brokers, host:port[,host:port…]", "BROKERS", required=True,
                         example="kafka1:9092,kafka2:9092")
    topics: str = setting("", "topic of each signal, traces=NAME,metrics=NAME,logs=NAME (default: otlp_spans, "
                              "otlp_metrics, otlp_logs)", "MAP")
    partitions: int = setting(6, "partitions of topics created when missing", positive=True)
    max_message_bytes: int = setting(DEFAULT_MAX_MESSAGE_BYTES, "the brokers' message.max.bytes; larger requests "
                                     "are split", unit=SIZE, minimum=64 * 1024)
    http: str = setting("", "serve /api/v1/health and /metrics here ('' or off: not served)", unit=LISTEN_OR_OFF)

    def validate(self) -> None:
        try:
            if self.kafka:
                parse_brokers(self.kafka)
        except KafkaConfigError as exc:
            raise ConfigError("kafka", str(exc)) from None
        try:
            parse_topics(self.topics)
        except KafkaConfigError as exc:
            raise ConfigError("topics", str(exc)) from None

    def kafka_config(self, **extra) -> KafkaConfig:
        """The queue's settings (``extra``: the other KafkaConfig fields, e.g. group_id)."""
        try:
            return KafkaConfig(brokers=parse_brokers(self.kafka), topics=parse_topics(self.topics),
                               partitions=self.partitions, max_message_bytes=self.max_message_bytes,
                               **extra).validate()
        except KafkaConfigError as exc:
            raise ConfigError(str(exc)) from None
