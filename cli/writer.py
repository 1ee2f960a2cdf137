"""``stackeye writer``: Kafka → ClickHouse (cluster mode). Run N of them in one consumer group.

    KafkaQueue (consumer group) → Writer (batch, dedup token, retry with capped backoff) → storage

Offsets are committed only after ClickHouse confirmed the insert; a replay after a crash carries
the same deduplication token. ClickHouse down → the writer retries the same batch (capped
backoff) and Kafka holds the backlog. A wrong password or too old a server stops it (exit 2).
"""
from __future__ import annotations

import logging

from stackeye.app.writer_config import KafkaWriterConfig
from stackeye.cli.collector import quiet_kafka_client, wait_for_signal
from stackeye.cli.options import add_config_flags, config_from_args, print_config

HELP = "Kafka in, ClickHouse out (cluster mode; run N of them in one group)"
EPILOG = """examples:
  stackeye writer --kafka kafka1:9092 --clickhouse clickhouse://writer:pw@ch1:9000/otel
  stackeye writer --kafka kafka1:9092 --clickhouse clickhouses://writer:pw@ch1:9440/otel --no-migrate --http 0.0.0.0:8082
  stackeye writer --kafka kafka1:9092 --clickhouse chdb:///var/lib/stackeye/clickhouse   # one writer, embedded
  stackeye writer --print-config > /etc/stackeye/writer.toml   # then: stackeye writer --config FILE

Migrations run at start unless --no-migrate (then run: stackeye migrate --clickhouse URL [--cluster NAME]).
Settings: defaults < --config file < STACKEYE_* environment < flags; errors no retry can fix exit 2.
"""

log = logging.getLogger("stackeye.writer.cli")


def configure(parser) -> None:
    add_config_flags(parser, KafkaWriterConfig)


def run(args) -> int:
    from stackeye.app.cluster import open_storage_waiting
    from stackeye.cli.packages import require_kafka_client, require_storage_client
    from stackeye.core.config import check_required
    from stackeye.core.errors import Fatal
    from stackeye.storage.base import StorageError
    from stackeye.storage.migrations import SchemaOptions

    config = config_from_args(KafkaWriterConfig, args)
    if args.print_config:
        return print_config(config, "stackeye writer configuration")
    check_required(config)
    url = config.storage_url()
    require_kafka_client()
    require_storage_client(url)
    quiet_kafka_client()
    kafka = config.kafka_config(group_id=config.group)
    stop = wait_for_signal()
    try:
        storage = open_storage_waiting(url, SchemaOptions(cluster=config.cluster), stop, config.connect_timeout)
        if storage is None:
            return 0
        if config.migrate:
            for name in storage.migrate():
                log.info("schema migration applied: %s", name)
    except StorageError as exc:
        if not exc.retryable:  # a refused password, too old a server: retrying cannot fix it
            raise Fatal(str(exc)) from None
        log.error("%s", exc)
        return 1
    return serve(kafka, storage, url.redacted(), stop, http=config.http, batch=config.batch())


def serve(config, storage, storage_name: str, stop, *, http: str | None = None, batch=None) -> int:
    """Run a writer from Kafka into an open storage until ``stop`` is set (the CLI's loop)."""
    from stackeye.app.cluster import KafkaWriterApp

    try:
        app = KafkaWriterApp(config, storage, storage_name, http=http, batch=batch)
    except OSError as exc:
        log.error("%s", exc)
        storage.close()
        return 1
    app.start()
    log.info("stackeye writer: Kafka %s (group %s) → %s", ",".join(config.brokers), config.group_id, storage_name)
    stop.wait()
    log.info("shutting down: finishing the batch in flight; Kafka keeps the rest")
    app.stop()
    return 0
