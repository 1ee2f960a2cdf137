"""HAProxy: a ``backend`` section for the config file, and the runtime API commands for a live one.

::

    backend checkout
        server r0 10.0.0.5:8080 weight 100
        server r1 10.0.0.6:8080 weight 0 disabled

    set server checkout/r0 weight 100
    set server checkout/r0 state ready
    set server checkout/r1 weight 0
    set server checkout/r1 state maint

Server names are the decisions' servers with every character HAProxy refuses in a name turned
into ``_`` (``10.0.0.5:8080`` → ``10.0.0.5_8080``), so they stay the same from one rendering to
the next and the runtime commands find them. States: active → ``ready``, drained → ``drain``,
ejected or an open breaker → ``maint`` (``disabled`` in the config). HAProxy's weights go up to
256: when a decision's weight is higher, every weight is scaled so the largest is 256.

``render`` gives the section (``options.output`` "config", the default) or the command list
("commands"); :func:`settings` gives the same per server as values, for the runtime applier's diff.
"""
from __future__ import annotations

import dataclasses
import re

from stackeye.decisions.gateways.targets import RenderError, RenderOptions, targets

MAX_WEIGHT = 256
STATE_OF_MODE = {"ready": "ready", "drain": "drain", "down": "maint"}
OUTPUTS = ("config", "commands")
_NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")


@dataclasses.dataclass(frozen=True)
class ServerSetting:
    """What one HAProxy server should be set to."""

    name: str
    server: str  # the decision's server
    address: str  # host:port; "" when unknown (the runtime applier then finds the server by name alone)
    weight: int  # 0..256
    state: str  # ready | drain | maint


def backend_name(upstream: str, options: RenderOptions) -> str:
    name = options.backend or upstream
    if not _NAME.match(name):
        raise RenderError(f"{name!r} cannot be a HAProxy backend name: use letters, digits and _ . : - (--backend)")
    return name


def settings(upstream: str, decisions, options: RenderOptions, need_address: bool = True) -> list[ServerSetting]:
    """Per decision, what its HAProxy server should be set to; ``need_address=False`` for the runtime
    API, where a server named like the decision's server needs no address."""
    servers = targets(upstream, decisions, options, need_address)
    if not servers:
        raise RenderError(f"no routing decisions for upstream {upstream!r}: nothing to render (is the upstream "
                          "name right? `stackeye decide routing --upstream NAME` lists its servers)")
    top = max(t.weight for t in servers)
    scale = MAX_WEIGHT / top if top > MAX_WEIGHT else 1.0
    out, seen = [], {}
    for t in servers:
        if t.name in seen:
            raise RenderError(f"servers {seen[t.name]!r} and {t.server!r} would both be HAProxy server {t.name!r}")
        seen[t.name] = t.server
        out.append(ServerSetting(t.name, t.server, str(t.address or ""), round(t.weight * scale), STATE_OF_MODE[t.mode]))
    return out


def commands(backend: str, setting: ServerSetting, weight: bool = True, state: bool = True) -> list[str]:
    """The runtime API commands that put one server in ``setting`` (its weight first when it comes
    back, its state first when it goes away, so it never takes traffic at the old weight)."""
    w = [f"set server {backend}/{setting.name} weight {setting.weight}"] if weight else []
    s = [f"set server {backend}/{setting.name} state {setting.state}"] if state else []
    return w + s if setting.state == "ready" else s + w


def render(upstream: str, decisions, options: RenderOptions) -> str:
    output = options.output or "config"
    if output not in OUTPUTS:
        raise RenderError(f"HAProxy renders {' or '.join(OUTPUTS)}, not {output!r}")
    backend = backend_name(upstream, options)
    servers = settings(upstream, decisions, options)
    if output == "commands":
        return "".join(f"{c}\n" for s in servers for c in commands(backend, s))
    lines = [f"backend {backend}\n"]
    for s in servers:
        flag = " disabled" if s.state == "maint" else ""
        lines.append(f"    server {s.name} {s.address} weight {0 if s.state == 'drain' else s.weight}{flag}\n")
    return "".join(lines)
