"""``HOST:PORT``: the one parser of network addresses (flags, config files, Kafka brokers).

- ``host:port``, ``1.2.3.4:port`` and ``[v6]:port`` (IPv6 in brackets, as in URLs).
- The port is 1..65535. Port 0 is accepted only for a listen address: the OS picks a free port
  (tests use it). A connect address needs the server's real port.
- The host is required: ``0.0.0.0:4317`` (or ``[::]:4317``) listens on every interface.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import re

_HOSTNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")


class AddressError(ValueError):
    """Not a HOST:PORT; the message says what a good value looks like."""


@dataclasses.dataclass(frozen=True)
class Address:
    host: str  # without the brackets of an IPv6 address
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _example(listen: bool) -> str:
    return "127.0.0.1:4317, 0.0.0.0:4317 or [::1]:4317" if listen else "10.0.0.5:4317, kafka1:9092 or [::1]:4317"


def parse_address(text: str, *, listen: bool) -> Address:
    """``text`` as an :class:`Address`; ``listen`` allows port 0 (the OS chooses the port)."""
    if not isinstance(text, str):
        raise AddressError(f"expected HOST:PORT like {_example(listen)}, got {text!r}")
    value = text.strip()
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise AddressError(f"expected HOST:PORT like {_example(listen)}, got {text!r}")
    if host.startswith("["):
        if not host.endswith("]"):
            raise AddressError(f"unclosed '[' in {text!r}: write IPv6 addresses in brackets, e.g. [::1]:4317")
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise AddressError(f"{host!r} in {text!r} is not an IPv6 address; expected e.g. [::1]:4317") from None
    elif ":" in host:
        raise AddressError(f"put an IPv6 address in brackets: [{host}]:{port} instead of {text!r}")
    elif not _HOSTNAME.match(host):
        raise AddressError(f"bad host {host!r} in {text!r}: expected a name or IP address, e.g. {_example(listen)}")
    if not port.isdigit() or int(port) > 65535:
        raise AddressError(f"bad port {port!r} in {text!r}: expected a number from 1 to 65535, e.g. {_example(listen)}")
    number = int(port)
    if number == 0 and not listen:
        raise AddressError(f"port 0 in {text!r}: a connect address needs the server's port, e.g. {_example(False)}")
    return Address(host, number)


def same_endpoint(a: str, b: str) -> bool:
    """Whether two addresses name the same port on this host (loopback and wildcard are one)."""
    local = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"}
    x, y = parse_address(a, listen=True), parse_address(b, listen=True)
    return x.port == y.port and (x.host == y.host or (x.host in local and y.host in local))
