"""Settings of ``stackeye writer``: Kafka in, ClickHouse out (cluster mode)."""
from __future__ import annotations

import dataclasses

from stackeye.app.kafka_settings import KafkaSettings
from stackeye.collector.queue.kafka_config import DEFAULT_GROUP
from stackeye.collector.writer.writer import WriterConfig
from stackeye.core.config import ConfigError, setting
from stackeye.core.units import DURATION, SIZE
from stackeye.storage.engine_flatten import MAX_BATCH_BYTES
from stackeye.storage.url import StorageURL, StorageURLError, parse_storage_url


@dataclasses.dataclass(frozen=True)
class KafkaWriterConfig(KafkaSettings):
    """Settings of ``stackeye writer`` (the Kafka ones come from :class:`KafkaSettings`)."""

    clickhouse: str = setting("", "storage: clickhouse://user:pass@host:9000/db (clickhouses:// for TLS) or "
                                  "chdb:///abs/path", "URL", required=True, example="clickhouse://writer:pw@ch1:9000/otel")
    group: str = setting(DEFAULT_GROUP, "Kafka consumer group of the writers", "NAME")
    migrate: bool = setting(True, "apply schema migrations at start")
    cluster: str = setting("", "ClickHouse cluster of the schema: ON CLUSTER DDL, inserts wait for every shard", "NAME")
    # Bigger than `stackeye up`'s batches: a writer has the machine to itself, and fewer, larger
    # inserts keep Kafka mode above 80 % of the embedded rate (bench/RESULTS.md, "Cluster mode").
    batch_max_records: int = setting(2000, "Kafka records per insert", positive=True)
    batch_max_bytes: int = setting(32 << 20, "record bytes per insert (one insert block at most)", unit=SIZE,
                                   positive=True, maximum=MAX_BATCH_BYTES)
    batch_max_wait: float = setting(1.0, "longest a record waits for its batch to fill", unit=DURATION)
    connect_timeout: float = setting(0.0, "keep retrying an unreachable ClickHouse at start this long; 0 = forever",
                                     unit=DURATION)

    def validate(self) -> None:
        super().validate()
        if self.clickhouse:
            try:
                parse_storage_url(self.clickhouse)
            except StorageURLError as exc:
                raise ConfigError("clickhouse", str(exc)) from None

    def storage_url(self) -> StorageURL:
        return parse_storage_url(self.clickhouse)

    def batch(self) -> WriterConfig:
        return WriterConfig(self.batch_max_records, self.batch_max_bytes, self.batch_max_wait)
