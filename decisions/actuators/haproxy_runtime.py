"""A live HAProxy's servers set to the routing decisions over its runtime API (the admin socket).

HAProxy needs ``stats socket /run/haproxy/admin.sock level admin`` (or ``ipv4@127.0.0.1:9999``)
in its ``global`` section. :func:`apply`:

1. reads the backend's servers with ``show servers state <backend>`` (weight ``srv_uweight``,
   state from the ``srv_admin_state`` bits: maintenance, drain, else ready);
2. compares each with what the decisions ask (:func:`stackeye.decisions.gateways.haproxy.settings`)
   and plans only the ``set server`` commands that change something;
3. dry-run: stops there; otherwise sends them, one connection a command, and reads the state back
   to verify every server it changed.

Socket errors that may pass (refused, reset, a socket file missing while HAProxy restarts) are
retried with :func:`stackeye.core.retry.retry`; a command HAProxy answers with an error, or a
server that reads back different, fails that server only. The report says, server by server,
what was applied and what was not. Decisions naming a server the backend does not have fail too
(add it to the config: the runtime API cannot create servers here); the backend's other servers
are left as they are.
"""
from __future__ import annotations

import dataclasses
import os
import socket

from stackeye.core.address import AddressError, parse_address
from stackeye.core.errors import Fatal
from stackeye.core.retry import Backoff, retry, retry_on
from stackeye.decisions.gateways.haproxy import ServerSetting, commands

MAINT_BITS = 0x01 | 0x02 | 0x04 | 0x20 | 0x40  # forced, inherited, config, resolution, hostname maintenance
DRAIN_BITS = 0x08 | 0x10  # forced, inherited drain


class CommandRefused(Exception):
    """A command HAProxy answered with an error."""


@dataclasses.dataclass(frozen=True)
class ServerNow:
    name: str
    address: str
    weight: int
    state: str  # ready | drain | maint


@dataclasses.dataclass(frozen=True)
class ServerResult:
    server: str  # the decision's server
    name: str  # HAProxy's server name ("" when the backend has none for it)
    action: str  # unchanged | planned | applied | failed
    commands: tuple[str, ...] = ()
    message: str = ""


@dataclasses.dataclass(frozen=True)
class Report:
    backend: str
    dry_run: bool
    results: tuple[ServerResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.action != "failed" for r in self.results)


class RuntimeAPI:
    """HAProxy's runtime API at a unix socket path or a ``host:port``: one command per connection."""

    def __init__(self, where: str, timeout_s: float = 5.0, deadline_s: float = 10.0):
        self.where, self.timeout_s, self.deadline_s = where, timeout_s, deadline_s
        if os.sep in where or not _is_address(where):
            if not os.path.exists(where):
                raise Fatal(f"no HAProxy admin socket at {where}: add `stats socket {where} level admin` to the "
                            "global section of haproxy.cfg, or pass --haproxy-socket HOST:PORT for a TCP one")
            self.family, self.target = socket.AF_UNIX, where
        else:
            address = parse_address(where, listen=False)
            self.family, self.target = socket.AF_INET6 if ":" in address.host else socket.AF_INET, \
                (address.host, address.port)

    def send(self, command: str) -> str:
        """HAProxy's answer to ``command`` (retried on transient socket errors)."""
        transient = retry_on(OSError, when=lambda e: not isinstance(e, PermissionError))
        try:
            return retry(lambda: self._once(command), is_retryable=transient, policy=Backoff(0.1, 2.0),
                         deadline_s=self.deadline_s)
        except PermissionError as exc:
            raise Fatal(f"cannot open the HAProxy admin socket {self.where}: {exc} (run as a user that may, "
                        "or set the socket's mode/user in `stats socket`)") from None

    def _once(self, command: str) -> str:
        with socket.socket(self.family, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout_s)
            sock.connect(self.target)
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")


def _is_address(text: str) -> bool:
    try:
        parse_address(text, listen=False)
        return True
    except AddressError:
        return False


def state_of(admin_bits: int) -> str:
    if admin_bits & MAINT_BITS:
        return "maint"
    if admin_bits & DRAIN_BITS:
        return "drain"
    return "ready"


def parse_servers_state(text: str, backend: str) -> dict[str, ServerNow]:
    """``show servers state <backend>``'s answer as {server name: ServerNow} (pure)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    header = next((ln[1:].split() for ln in lines if ln.startswith("#")), None)
    if header is None or "srv_name" not in header:
        answer = text.strip() or "nothing"
        if "Can't find backend" in text or "No such backend" in text:
            raise Fatal(f"HAProxy has no backend {backend!r} (it answered: {answer}); pass --backend NAME")
        if "ermission denied" in text:
            raise Fatal(f"the HAProxy socket refuses `show servers state` ({answer}): give it `level admin`")
        raise Fatal(f"unexpected answer to `show servers state {backend}`: {answer[:200]}")
    col = {name: i for i, name in enumerate(header)}
    out = {}
    for ln in lines:
        if ln.startswith("#") or len(ln.split()) < len(header) - 1:
            continue
        f = ln.split()
        if f[col["be_name"]] != backend:
            continue
        port = f[col["srv_port"]] if "srv_port" in col else "0"
        out[f[col["srv_name"]]] = ServerNow(f[col["srv_name"]], f"{f[col['srv_addr']]}:{port}",
                                            int(f[col["srv_uweight"]]), state_of(int(f[col["srv_admin_state"]])))
    return out


def plan(backend: str, wanted: list[ServerSetting], now: dict[str, ServerNow]) -> list[ServerResult]:
    """Per decision: the commands that would make HAProxy's server match it (pure).

    A decision's server is found by HAProxy server name, else by address."""
    by_address = {s.address: s for s in now.values()}
    out = []
    for w in wanted:
        current = now.get(w.name) or (by_address.get(w.address) if w.address else None)
        if current is None:
            at = f" nor one at {w.address}" if w.address else " (and --server-map gives it no address)"
            out.append(ServerResult(w.server, "", "failed", message=f"backend {backend} has no server {w.name}"
                                    f"{at}: add it to haproxy.cfg"))
            continue
        w = dataclasses.replace(w, name=current.name)
        cmds = commands(backend, w, weight=current.weight != w.weight, state=current.state != w.state)
        out.append(ServerResult(w.server, w.name, "planned" if cmds else "unchanged", tuple(cmds),
                                f"{current.state} {current.weight} -> {w.state} {w.weight}" if cmds else
                                f"{current.state} {current.weight}"))
    return out


def apply(api: RuntimeAPI, backend: str, wanted: list[ServerSetting], dry_run: bool = True) -> Report:
    """Make the backend's servers match ``wanted``: only the changed ones, verified by reading back."""
    steps = plan(backend, wanted, parse_servers_state(api.send(f"show servers state {backend}"), backend))
    if dry_run:
        return Report(backend, True, tuple(steps))
    sent: list[ServerResult] = []
    for step in steps:
        if step.action != "planned":
            sent.append(step)
            continue
        try:
            for cmd in step.commands:
                answer = api.send(cmd).strip()
                if answer:
                    raise CommandRefused(f"`{cmd}`: {answer}")
        except (CommandRefused, OSError) as exc:
            sent.append(dataclasses.replace(step, action="failed", message=str(exc)))
            continue
        sent.append(dataclasses.replace(step, action="applied"))
    after = parse_servers_state(api.send(f"show servers state {backend}"), backend)
    wanted_of = {w.server: w for w in wanted}
    results = []
    for r in sent:
        if r.action == "applied":
            w, got = wanted_of[r.server], after.get(r.name)
            if got is None or (got.weight, got.state) != (w.weight, w.state):
                seen = f"{got.state} {got.weight}" if got else "no such server"
                r = dataclasses.replace(r, action="failed", message=f"sent, but reads back {seen} instead of "
                                                                    f"{w.state} {w.weight}")
        results.append(r)
    return Report(backend, False, tuple(results))
