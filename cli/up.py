"""``stackeye up``: ingest, durable queue, writer, query API — one process, chDB under ./stackeye-data."""
from __future__ import annotations

import logging
import os
import signal
import threading

from stackeye.app.up_config import UpConfig
from stackeye.cli.options import add_config_flags, config_from_args, print_config

HELP = "run the whole pipeline in one process (OTLP in, chDB storage, query API)"
EPILOG = """examples:
  stackeye up                                     # OTLP on 127.0.0.1:4317 (gRPC) and :4318 (HTTP), API on :8080
  stackeye up --data-dir /var/lib/stackeye --otlp-grpc 0.0.0.0:4317 --insecure   # open to the network, no auth
  stackeye up --token s3cret=team-a --token t0ken=team-b   # require bearer tokens, one tenant each
  stackeye tenants create team-a                  # or: hashed tokens and API keys in the key file (stackeye keys --help)
  stackeye up --otlp-grpc 0.0.0.0:4317 --token s3cret --tls-cert cert.pem --tls-key key.pem   # TLS (docs/tls.md)
  stackeye up --policy policies.toml --keda-grpc 0.0.0.0:9090   # KEDA scales Deployments from the decisions (docs/keda.md)
  STACKEYE_RETENTION_DAYS=30 stackeye up --config /etc/stackeye/up.toml
  stackeye up --print-config > /etc/stackeye/up.toml      # every setting, its default and what it does

Then point any OpenTelemetry SDK at it (OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317) and ask:
  stackeye sql "SELECT ServiceName, count() FROM otel_traces GROUP BY ServiceName"

Settings: defaults < --config file < STACKEYE_* environment < flags. Errors no retry can fix (bad
settings, a data directory it cannot write, a refused password) exit with code 2.
SIGHUP: read the --tls-cert/--tls-key/--client-ca files again (new connections get the new
certificate; a file that cannot be used keeps the old one and is logged).
SIGTERM/SIGINT: stop accepting, drain the spool into storage, exit 0 (a second signal exits at once;
what was not written stays in the spool for the next start).
"""

log = logging.getLogger("stackeye.up")


def configure(parser) -> None:
    add_config_flags(parser, UpConfig)


def run(args) -> int:
    from stackeye.app.embedded import EmbeddedApp
    from stackeye.app.exposure import auth_from_settings, check_exposure
    from stackeye.app.tls_settings import reload_on_sighup
    from stackeye.cli.packages import require_storage_client
    from stackeye.core.directories import ensure_writable_dir
    from stackeye.core.errors import Fatal
    from stackeye.storage.base import StorageError
    from stackeye.storage.url import parse_storage_url

    config = config_from_args(UpConfig, args)
    if args.print_config:
        return print_config(config, "stackeye up configuration")
    check_exposure(config, auth_from_settings(config))
    ensure_writable_dir(config.data_dir, "data_dir", "--data-dir ~/stackeye-data")
    require_storage_client(parse_storage_url(config.storage_url()))
    app = EmbeddedApp(config)
    stop = threading.Event()

    def on_signal(signum, frame):
        if stop.is_set():  # a second signal: leave now; what was not written stays in the spool
            log.warning("second signal: exiting without finishing the drain (nothing is lost: the spool keeps it)")
            os._exit(1)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    reload_on_sighup(app.tls)
    try:
        app.start()
    except StorageError as exc:
        if not exc.retryable:
            raise Fatal(str(exc)) from None
        log.error("%s", exc)
        return 1
    except OSError as exc:
        log.error("%s", exc)
        return 1
    log.info("stackeye up: OTLP/gRPC %s, OTLP/HTTP %s, API %s://%s, data in %s", config.otlp_grpc,
             config.otlp_http or "off", "https" if app.tls else "http", config.http, config.data_dir)
    stop.wait()
    log.info("shutting down: no new requests, draining the spool")
    app.stop()
    return 0
