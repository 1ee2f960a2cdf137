"""``stackeye writer``: Kafka → ClickHouse (cluster mode). Run N of them in one consumer group.

    KafkaQueue (consumer group) → Writer (batch, dedup token, retry with capped backoff) → storage

Offsets are committed only after ClickHouse confirmed the insert; a replay after a crash carries
the same deduplication token. ClickHouse down → the writer retries the same batch (capped
backoff) and Kafka holds the backlog.
"""
from __future__ import annotations

import logging

from stackeye.cli.collector import (
    add_kafka_flags,
    check_address,
    kafka_config,
    quiet_kafka_client,
    wait_for_signal,
)

HELP = "Kafka in, ClickHouse out (cluster mode; run N of them in one group)"
EPILOG = """examples:
  stackeye writer --kafka kafka1:9092 --clickhouse clickhouse://writer:pw@ch1:9000/otel
  stackeye writer --kafka kafka1:9092 --clickhouse clickhouses://writer:pw@ch1:9440/otel --no-migrate --http 0.0.0.0:8082
  stackeye writer --kafka kafka1:9092 --clickhouse chdb:///var/lib/stackeye/clickhouse   # one writer, embedded

Migrations run at start unless --no-migrate (then run: stackeye migrate --clickhouse URL [--cluster NAME]).
"""

log = logging.getLogger("stackeye.writer.cli")


def configure(parser) -> None:
    add_kafka_flags(parser)
    parser.add_argument("--clickhouse", metavar="URL", required=True,
                        help="clickhouse://user:pass@host:9000/db (clickhouses:// for TLS) or chdb:///abs/path")
    parser.add_argument("--group", default="stackeye-writer", help="Kafka consumer group (default: stackeye-writer)")
    parser.add_argument("--migrate", default=True, action=__import__("argparse").BooleanOptionalAction,
                        help="apply schema migrations at start (default: on)")
    parser.add_argument("--cluster", metavar="NAME", default="",
                        help="ClickHouse cluster of the schema: ON CLUSTER DDL, inserts wait for every shard")
    # Bigger than `stackeye up`'s batches: a writer has the machine to itself, and fewer, larger
    # inserts keep Kafka mode above 80 % of the embedded rate (bench/RESULTS.md, "Cluster mode").
    parser.add_argument("--batch-max-records", type=int, default=2000, help="Kafka records per insert (default: 2000)")
    parser.add_argument("--batch-max-bytes", type=int, default=32 << 20,
                        help="record bytes per insert, at most 64 MiB (default: 33554432)")
    parser.add_argument("--batch-max-wait", type=float, default=1.0,
                        help="seconds a record waits for its batch to fill (default: 1.0)")
    parser.add_argument("--connect-timeout", type=float, default=0.0,
                        help="keep retrying an unreachable ClickHouse at start this many seconds; 0 = forever")


def run(args) -> int:
    quiet_kafka_client()
    from stackeye.app.cluster import open_storage_waiting
    from stackeye.cli.errors import UsageError
    from stackeye.collector.writer.writer import WriterConfig
    from stackeye.storage.base import StorageError
    from stackeye.storage.migrations import SchemaOptions
    from stackeye.storage.url import StorageURLError, parse_storage_url

    config = kafka_config(args, group_id=args.group)
    try:
        url = parse_storage_url(args.clickhouse)
    except StorageURLError as exc:
        raise UsageError(str(exc)) from None
    check_address("--http", args.http)
    if min(args.batch_max_records, args.batch_max_bytes) <= 0 or args.batch_max_wait < 0 or args.batch_max_bytes > 64 << 20:
        raise UsageError("--batch-max-records and --batch-max-bytes must be positive (bytes at most 67108864: one "
                         "insert block, see engine_flatten.MAX_BATCH_BYTES), --batch-max-wait >= 0")
    stop = wait_for_signal()
    try:
        storage = open_storage_waiting(url, SchemaOptions(cluster=args.cluster), stop, args.connect_timeout)
        if storage is None:
            return 0
        if args.migrate:
            for name in storage.migrate():
                log.info("schema migration applied: %s", name)
    except StorageError as exc:
        log.error("%s", exc)
        return 1
    return serve(config, storage, url.redacted(), stop, http=args.http,
                 batch=WriterConfig(args.batch_max_records, args.batch_max_bytes, args.batch_max_wait))


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
