"""The TLS settings of the processes that listen (``stackeye up``, ``stackeye collector``).

The same certificate serves every listener of the process (OTLP/gRPC, OTLP/HTTP, the API or
status port, KEDA's scaler); with a client CA every one of them asks for a client certificate
(mTLS). The configs declare the settings with the help texts below, so both read the same.
"""
from __future__ import annotations

import os
import signal
import threading

from stackeye.core.config import ConfigError
from stackeye.core.tls import ServerTLS, TLSError, TLSFiles

TLS_CERT_HELP = ("PEM certificate chain (server certificate first) served on every listener: OTLP/gRPC, "
                 "OTLP/HTTP and the HTTP API speak TLS only; SIGHUP reloads it. Empty: plaintext")
TLS_KEY_HELP = "PEM private key of --tls-cert (unencrypted); empty: the key is in the --tls-cert file"
CLIENT_CA_HELP = ("PEM of the CA that signs client certificates (agents, SDKs, API clients): with it every "
                  "listener refuses a client without such a certificate (mTLS). Needs --tls-cert")
INSECURE_HELP = ("allow listening on a non-loopback address with no auth configured (no --token, no API key): "
                 "anyone who can reach the port can send and read data")


def check_tls_settings(config) -> None:
    """The checks of ``validate()``: a key or client CA needs a certificate; every file is readable."""
    if config.tls_key and not config.tls_cert:
        raise ConfigError("tls_key", "a TLS key without its certificate: add --tls-cert CERT.pem (or drop --tls-key)")
    if config.client_ca and not config.tls_cert:
        raise ConfigError("client_ca", "client certificates are checked in the TLS handshake: add --tls-cert "
                                       "and --tls-key (or drop --client-ca)")
    for name in ("tls_cert", "tls_key", "client_ca"):
        path = getattr(config, name)
        if path and not (os.path.isfile(path) and os.access(path, os.R_OK)):
            problem = "cannot read" if os.path.exists(path) else "no such file"
            raise ConfigError(name, f"{problem}: {path!r}; give a readable PEM file with --{name.replace('_', '-')}")


def server_tls(config) -> ServerTLS | None:
    """The process's certificate, loaded (None without --tls-cert); a file that cannot be used is
    a :class:`ConfigError` (exit 2) naming it."""
    if not config.tls_cert:
        return None
    try:
        return ServerTLS(TLSFiles(config.tls_cert, config.tls_key, config.client_ca))
    except TLSError as exc:
        raise ConfigError(str(exc)) from None


def reload_on_sighup(tls: ServerTLS | None) -> None:
    """``kill -HUP``: read the certificate files again (in a thread: not inside the signal handler,
    which may have interrupted the main thread anywhere, logging included)."""
    if tls is None:
        return
    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=tls.reload, name="tls-reload", daemon=True).start())
