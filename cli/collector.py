"""``stackeye collector``: stateless OTLP ingest into Kafka (cluster mode). Run many behind a load balancer.

    OTLP gRPC/HTTP → Receiver → KafkaQueue (acks=all) ; HTTP: /api/v1/health, /metrics

A request is answered OK only after every Kafka replica acknowledged it; Kafka unreachable →
UNAVAILABLE (HTTP 503) with the reason, so clients retry. ``stackeye writer`` moves the topics into
ClickHouse.
"""
from __future__ import annotations

import logging
import signal
import threading

HELP = "OTLP in, Kafka out (cluster mode; run N of them, stateless)"
EPILOG = """examples:
  stackeye collector --kafka kafka1:9092,kafka2:9092                 # OTLP/gRPC on 127.0.0.1:4317
  stackeye collector --kafka kafka1:9092 --otlp-grpc 0.0.0.0:4317 --otlp-http 0.0.0.0:4318 --http 0.0.0.0:8081
  stackeye collector --kafka kafka1:9092 --topics traces=prod_spans,metrics=prod_metrics,logs=prod_logs

Topics default to otlp_spans, otlp_metrics, otlp_logs (what the OpenTelemetry Collector's Kafka
exporter writes, otlp_proto encoding). Then: stackeye writer --kafka … --clickhouse URL
"""

log = logging.getLogger("stackeye.collector")


def add_kafka_flags(parser) -> None:
    """Flags shared by ``collector`` and ``writer``."""
    parser.add_argument("--kafka", metavar="BROKERS", required=True,
                        help="bootstrap brokers, host:port[,host:port…]")
    parser.add_argument("--topics", metavar="MAP", default="",
                        help="traces=NAME,metrics=NAME,logs=NAME (default: otlp_spans, otlp_metrics, otlp_logs)")
    parser.add_argument("--partitions", type=int, default=6,
                        help="partitions of topics created when missing (default: 6)")
    parser.add_argument("--max-message-bytes", type=int, default=1_000_000,
                        help="the brokers' message.max.bytes; larger requests are split (default: 1000000)")
    parser.add_argument("--http", metavar="HOST:PORT", default=None,
                        help="serve /api/v1/health and /metrics here (default: off)")


def kafka_config(args, **extra):
    """The KafkaConfig of the flags; bad values → UsageError (exit 2)."""
    from stackeye.cli.errors import UsageError
    from stackeye.collector.queue.kafka_config import (
        KafkaConfig,
        KafkaConfigError,
        parse_brokers,
        parse_topics,
    )

    try:
        return KafkaConfig(brokers=parse_brokers(args.kafka), topics=parse_topics(args.topics),
                           partitions=args.partitions, max_message_bytes=args.max_message_bytes, **extra).validate()
    except KafkaConfigError as exc:
        raise UsageError(str(exc)) from None


def check_address(flag: str, value: str | None) -> None:
    from stackeye.cli.errors import UsageError

    if value is None:
        return
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"bad {flag} {value!r}: expected HOST:PORT, e.g. 0.0.0.0:8081")


def quiet_kafka_client() -> None:
    """kafka-python logs every refused connection at ERROR; stackeye reports outages itself
    (UNAVAILABLE answers, writer retries), so its client logs show only with --log-level debug."""
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger("kafka").setLevel(logging.CRITICAL)


def wait_for_signal() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def configure(parser) -> None:
    add_kafka_flags(parser)
    parser.add_argument("--otlp-grpc", metavar="HOST:PORT", default="127.0.0.1:4317",
                        help="OTLP/gRPC listen address (default: 127.0.0.1:4317)")
    parser.add_argument("--otlp-http", metavar="HOST:PORT", default=None,
                        help="OTLP/HTTP listen address (default: off)")
    parser.add_argument("--token", action="append", default=[], metavar="TOKEN[=TENANT]",
                        help="require this bearer token (repeatable); the tenant goes into the record headers")
    parser.add_argument("--max-request-bytes", type=int, default=16 << 20,
                        help="largest OTLP request accepted, decompressed (default: 16777216)")
    parser.add_argument("--produce-timeout", type=float, default=10.0,
                        help="seconds to wait for Kafka's acknowledgement before answering UNAVAILABLE (default: 10)")


def run(args) -> int:
    quiet_kafka_client()
    from stackeye.app.cluster import KafkaCollectorApp

    config = kafka_config(args, produce_timeout_s=args.produce_timeout)
    for flag, value in (("--otlp-grpc", args.otlp_grpc), ("--otlp-http", args.otlp_http), ("--http", args.http)):
        check_address(flag, value)
    try:
        app = KafkaCollectorApp(config, otlp_grpc=args.otlp_grpc, otlp_http=args.otlp_http, http=args.http,
                                tokens=args.token, max_request_bytes=args.max_request_bytes)
    except OSError as exc:
        log.error("%s", exc)
        return 1
    stop = wait_for_signal()
    app.start()
    log.info("stackeye collector: OTLP/gRPC %s, OTLP/HTTP %s → Kafka %s", args.otlp_grpc, args.otlp_http or "off",
             ",".join(config.brokers))
    stop.wait()
    log.info("shutting down: no new requests")
    app.stop()
    return 0
