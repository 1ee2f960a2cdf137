"""``stackeye up``: ingest, durable queue, writer, query API — one process, chDB under ./stackeye-data."""
from __future__ import annotations

import logging
import os
import signal
import threading

from stackeye.app.up_config import UpConfig
from stackeye.cli.options import add_config_flags, config_from_args

HELP = "run the whole pipeline in one process (OTLP in, chDB storage, query API)"
EPILOG = """examples:
  stackeye up                                     # OTLP on 127.0.0.1:4317 (gRPC) and :4318 (HTTP), API on :8080
  stackeye up --data-dir /var/lib/stackeye --otlp-grpc 0.0.0.0:4317
  stackeye up --token s3cret=teamA --token t0ken=teamB   # require bearer tokens, one tenant each
  STACKEYE_RETENTION_DAYS=30 stackeye up --config /etc/stackeye/up.toml

Then point any OpenTelemetry SDK at it (OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317) and ask:
  stackeye sql "SELECT ServiceName, count() FROM otel_traces GROUP BY ServiceName"

Settings: defaults < --config file < STACKEYE_* environment < flags.
SIGTERM/SIGINT: stop accepting, drain the spool into storage, exit 0 (a second signal exits at once;
what was not written stays in the spool for the next start).
"""

log = logging.getLogger("stackeye.up")


def configure(parser) -> None:
    add_config_flags(parser, UpConfig)


def run(args) -> int:
    from stackeye.app.embedded import EmbeddedApp
    from stackeye.storage.base import StorageError

    config = config_from_args(UpConfig, args)
    app = EmbeddedApp(config)
    stop = threading.Event()

    def on_signal(signum, frame):
        if stop.is_set():  # a second signal: leave now; what was not written stays in the spool
            log.warning("second signal: exiting without finishing the drain (nothing is lost: the spool keeps it)")
            os._exit(1)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    try:
        app.start()
    except (OSError, StorageError) as exc:
        log.error("%s", exc)
        return 1
    log.info("stackeye up: OTLP/gRPC %s, OTLP/HTTP %s, API http://%s, data in %s",
             config.otlp_grpc, config.otlp_http or "off", config.http, config.data_dir)
    stop.wait()
    log.info("shutting down: no new requests, draining the spool")
    app.stop()
    return 0
