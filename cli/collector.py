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

from stackeye.app.collector_config import KafkaCollectorConfig
from stackeye.cli.options import add_config_flags, config_from_args, print_config

HELP = "OTLP in, Kafka out (cluster mode; run N of them, stateless)"
EPILOG = """examples:
  stackeye collector --kafka kafka1:9092,kafka2:9092                 # OTLP/gRPC on 127.0.0.1:4317
  stackeye collector --kafka kafka1:9092 --otlp-grpc 0.0.0.0:4317 --otlp-http 0.0.0.0:4318 --http 0.0.0.0:8081 \
      --token s3cret=teamA --tls-cert cert.pem --tls-key key.pem   # off loopback: auth (or --insecure); TLS: docs/tls.md
  stackeye collector --kafka kafka1:9092 --topics traces=prod_spans,metrics=prod_metrics,logs=prod_logs
  stackeye collector --print-config > /etc/stackeye/collector.toml   # then: stackeye collector --config FILE

Topics default to otlp_spans, otlp_metrics, otlp_logs (what the OpenTelemetry Collector's Kafka
exporter writes, otlp_proto encoding). Then: stackeye writer --kafka … --clickhouse URL
SIGHUP reloads the --tls-cert/--tls-key/--client-ca files (new connections get the new certificate).
Settings: defaults < --config file < STACKEYE_* environment < flags; errors no retry can fix exit 2.
"""

log = logging.getLogger("stackeye.collector")


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
    add_config_flags(parser, KafkaCollectorConfig)


def run(args) -> int:
    from stackeye.cli.packages import require_kafka_client
    from stackeye.app.exposure import auth_from_settings, check_exposure
    from stackeye.app.tls_settings import reload_on_sighup, server_tls
    from stackeye.core.config import check_required

    config = config_from_args(KafkaCollectorConfig, args)
    if args.print_config:
        return print_config(config, "stackeye collector configuration")
    check_required(config)
    check_exposure(config, auth_from_settings(config))
    tls = server_tls(config)
    require_kafka_client()
    quiet_kafka_client()
    from stackeye.app.cluster import KafkaCollectorApp
    from stackeye.app.tenant_rates import rate_limits

    kafka = config.kafka_config(produce_timeout_s=config.produce_timeout)
    try:
        app = KafkaCollectorApp(kafka, otlp_grpc=config.otlp_grpc, otlp_http=config.otlp_http, http=config.http,
                                tokens=config.tokens, max_request_bytes=config.max_request_bytes,
                                keys_file=config.keys_file, rates=rate_limits(config), tls=tls)
    except OSError as exc:
        log.error("%s", exc)
        return 1
    stop = wait_for_signal()
    reload_on_sighup(tls)
    app.start()
    log.info("stackeye collector: OTLP/gRPC %s, OTLP/HTTP %s → Kafka %s", config.otlp_grpc, config.otlp_http or "off",
             ",".join(kafka.brokers))
    stop.wait()
    log.info("shutting down: no new requests")
    app.stop()
    return 0
