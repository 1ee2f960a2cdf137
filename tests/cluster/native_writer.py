"""``stackeye writer``'s loop (cli.writer.serve) on the Debian ClickHouse 18.16 server, as a process.

18.16 predates the schema (Map, DateTime64, Bool), so the tests give it a reduced ``otel_traces``
and this runner opens :class:`NativeStorage` with ``min_version=(18, 16)`` and those columns; all
the rest — KafkaQueue, consumer group, Writer, retries, native protocol — is the production code.

    python native_writer.py --kafka HOST:PORT --clickhouse URL --http HOST:PORT [--group G]
"""
from __future__ import annotations

import argparse
import logging
import sys

from stackeye.cli.collector import wait_for_signal
from stackeye.cli.writer import serve
from stackeye.collector.queue.kafka_config import KafkaConfig, parse_brokers
from stackeye.collector.writer.writer import WriterConfig
from stackeye.storage.native_storage import NativeStorage
from stackeye.storage.url import parse_storage_url

# The reduced table the tests create on 18.16 (see conftest.REDUCED_TRACES).
COLUMNS = {"otel_traces": ("TraceId", "SpanId", "ServiceName", "SpanName", "Duration", "Tenant")}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--kafka", required=True)
    p.add_argument("--clickhouse", required=True)
    p.add_argument("--http", required=True)
    p.add_argument("--group", default="stackeye-writer")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    stop = wait_for_signal()
    storage = NativeStorage(parse_storage_url(args.clickhouse), min_version=(18, 16), columns=COLUMNS)
    config = KafkaConfig(brokers=parse_brokers(args.kafka), group_id=args.group, partitions=4)
    return serve(config, storage, args.clickhouse, stop, http=args.http,
                 batch=WriterConfig(batch_max_records=20, batch_max_wait_s=0.3, retry_initial_s=0.2, retry_max_s=2.0))


if __name__ == "__main__":
    sys.exit(main())
