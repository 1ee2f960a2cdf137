"""No accidental exposure: a process that would serve everyone on the network refuses to start.

``stackeye up`` and ``stackeye collector`` listen on loopback by default. Listening on anything
else (``0.0.0.0``, ``::``, a LAN address, a host name that is not loopback) with no authentication
at all would let anyone who reaches the port send telemetry and, on ``up``, read every tenant's
data: that needs auth (``--token``, API keys, a key store) or an explicit ``--insecure``.
"""
from __future__ import annotations

import ipaddress
import os
import socket

from stackeye.core.address import parse_address
from stackeye.core.config import ConfigError

# The listen-address settings of the processes (those a config does not have are skipped).
LISTENERS = ("otlp_grpc", "otlp_http", "http", "keda_grpc")


def is_loopback(address: str) -> bool:
    """Whether ``address`` (HOST:PORT) listens on loopback only; a name counts when it resolves to loopback only."""
    host = parse_address(address, listen=True).host
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        resolved = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False  # cannot tell: binding fails later anyway, or it is not loopback
    return bool(resolved) and all(ipaddress.ip_address(ip.split("%")[0]).is_loopback for ip in resolved)


def exposed_listeners(config) -> list[tuple[str, str]]:
    """(setting, address) of every listener of ``config`` that is not on loopback."""
    return [(name, getattr(config, name)) for name in LISTENERS
            if getattr(config, name, "") and not is_loopback(getattr(config, name))]


def auth_from_settings(config) -> bool:
    """Whether auth is configured: ingest tokens or API keys as flags, or a key file holding tenants
    (``stackeye tenants create``), the same test :class:`stackeye.auth.credentials.Credentials` makes."""
    if getattr(config, "tokens", ()) or getattr(config, "api_keys", ()):
        return True
    path = config.keys_path() if hasattr(config, "keys_path") else getattr(config, "keys_file", "")
    if not path or not os.path.exists(path):
        return False
    from stackeye.auth.keystore import KeyStore
    return bool(KeyStore(path).tenants())


def check_exposure(config, auth_configured: bool) -> None:
    """Refuse (:class:`ConfigError`, exit 2) non-loopback listeners without auth, unless ``config.insecure``."""
    if auth_configured or getattr(config, "insecure", False):
        return
    exposed = exposed_listeners(config)
    if not exposed:
        return
    where = ", ".join(f"--{name.replace('_', '-')} {address}" for name, address in exposed)
    raise ConfigError(f"{where} would accept anyone on the network, and no auth is configured. "
                      "Require credentials (--token TOKEN=TENANT for ingest, --api-key, or keys made with "
                      "`stackeye tenants create`), listen on 127.0.0.1 only, or pass --insecure to run open "
                      "on purpose")
