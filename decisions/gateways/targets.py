"""What a gateway should do with each server of an upstream set: the one reading of a decision that
every renderer shares.

A :class:`~stackeye.decisions.model.RoutingDecision` says a weight (0..max_weight), a state
(active | ejected | drained) and a breaker (closed | open | half_open). A gateway needs less and
more: an address to send to, a weight, and a mode —

- ``down``: ejected, or its breaker is open: send it nothing;
- ``drain``: drained by an operator: no new requests, let the open ones finish;
- ``ready``: active (a half-open breaker is active with its small probe weight).

Servers are ``host:port`` for the ``peers`` and ``gateway`` sources. For the ``instances`` source a
server is a ``service.instance.id``, not an address: ``server_map`` (from ``--server-map`` or a
map file) says where each one listens; a server neither an address nor in the map is a
:class:`RenderError` naming the fix. Pure: no I/O, no clock.
"""
from __future__ import annotations

import dataclasses
import re
import tomllib
from typing import Iterable, Mapping

from stackeye.core.address import Address, AddressError, parse_address
from stackeye.core.errors import Fatal
from stackeye.decisions import codec
from stackeye.decisions.model import RoutingDecision

MODES = ("ready", "drain", "down")


class RenderError(Fatal):
    """Decisions a gateway cannot be given as they are (a server without an address, …): exit 2."""


@dataclasses.dataclass(frozen=True)
class RenderOptions:
    """How to render: every renderer reads what it needs and ignores the rest."""

    server_map: Mapping[str, str] = dataclasses.field(default_factory=dict)  # server id -> host:port
    backend: str = ""  # HAProxy's backend (default: the upstream's name)
    scheme: str = "http"  # Easegress' server URLs
    output: str = ""  # the renderer's form, "" for its default: HAProxy config | commands, Easegress yaml | json


@dataclasses.dataclass(frozen=True)
class Target:
    server: str  # the decision's server (instance id or host:port)
    address: Address | None  # None only when asked for without addresses (a server found by its name)
    weight: int  # the decision's weight, 0..max_weight
    mode: str  # one of MODES

    @property
    def name(self) -> str:
        """A name every gateway accepts for this server (HAProxy's server names, Envoy's metadata)."""
        return re.sub(r"[^A-Za-z0-9_.-]", "_", self.server)


def as_decision(row) -> RoutingDecision:
    """A RoutingDecision from itself or from its JSON row (what ``decision_source.evaluate`` returns)."""
    return row if isinstance(row, RoutingDecision) else codec.decode(RoutingDecision, row)


def mode_of(decision: RoutingDecision) -> str:
    if decision.state == "ejected" or decision.breaker == "open":
        return "down"
    if decision.state == "drained":
        return "drain"
    return "ready"


def targets(upstream: str, decisions: Iterable, options: RenderOptions, need_address: bool = True) -> list[Target]:
    """The targets of ``upstream``'s decisions (others are left out), in the decisions' order.

    ``need_address=False``: a server that has no address gets None rather than an error (HAProxy's
    runtime API finds servers by name)."""
    out = []
    for row in decisions:
        d = as_decision(row)
        if d.upstream != upstream:
            continue
        try:
            address = address_of(d.server, options.server_map)
        except RenderError:
            if need_address or d.server in options.server_map:
                raise
            address = None
        out.append(Target(d.server, address, max(0, int(d.weight)), mode_of(d)))
    return out


def address_of(server: str, server_map: Mapping[str, str]) -> Address:
    text = server_map.get(server, server)
    try:
        return parse_address(text, listen=False)
    except AddressError as exc:
        if server in server_map:
            raise RenderError(f"--server-map gives server {server!r} the address {text!r}: {exc}") from None
        raise RenderError(f"server {server!r} is not a HOST:PORT (an instance id of the 'instances' source?); "
                          f"say where it listens: --server-map {server}=HOST:PORT, or --server-map-file FILE "
                          f"with a line  \"{server}\" = \"HOST:PORT\"") from None


def parse_server_map(pairs: Iterable[str] = (), text: str | None = None, where: str = "--server-map-file") -> dict:
    """``ID=HOST:PORT`` pairs, and a TOML file's top-level ``"id" = "host:port"`` keys, as one map
    (a pair wins over the file). A bad entry is a RenderError naming it."""
    out: dict[str, str] = {}
    if text is not None:
        try:
            table = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RenderError(f"{where}: not TOML ({exc}); write one line per server: \"r0\" = \"10.0.0.5:8080\"") \
                from None
        for key, value in table.items():
            if not isinstance(value, str):
                raise RenderError(f"{where}: {key!r} must be a \"HOST:PORT\" string, got {value!r}")
            out[key] = value
    for pair in pairs:
        server, sep, address = pair.partition("=")
        if not sep or not server or not address:
            raise RenderError(f"--server-map {pair!r}: expected SERVER=HOST:PORT, e.g. r0=10.0.0.5:8080")
        out[server] = address
    return out
