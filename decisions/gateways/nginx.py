"""nginx: an ``upstream`` block, one ``server`` line per decision.

::

    upstream checkout {
        server 10.0.0.5:8080 weight=100;
        server 10.0.0.6:8080 down;  # r1
    }

nginx's weights must be at least 1, and open-source nginx has no draining: a server that is
ejected, drained, behind an open breaker or at weight 0 is marked ``down`` (nginx keeps it in the
set, sends it nothing, and keeps the hashing of ``hash``/``ip_hash`` stable). No reasons or
timestamps go in the text: the same decisions render the same bytes, so the applier rewrites and
reloads only when something changed.
"""
from __future__ import annotations

import re

from stackeye.decisions.gateways.targets import RenderError, RenderOptions, targets

HEADER = "# written by `stackeye decide apply routing`: edits are overwritten\n"
_NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")


def upstream_name(upstream: str) -> str:
    if not _NAME.match(upstream):
        raise RenderError(f"upstream {upstream!r} cannot be an nginx upstream name: use letters, digits and _ . : -")
    return upstream


def render(upstream: str, decisions, options: RenderOptions) -> str:
    servers = targets(upstream, decisions, options)
    if not servers:
        raise RenderError(f"no routing decisions for upstream {upstream!r}: nothing to render (is the upstream "
                          "name right? `stackeye decide routing --upstream NAME` lists its servers)")
    lines = [HEADER, f"upstream {upstream_name(upstream)} {{\n"]
    for t in servers:
        comment = f"  # {t.server}" if t.server != str(t.address) else ""
        if t.mode == "ready" and t.weight > 0:
            lines.append(f"    server {t.address} weight={t.weight};{comment}\n")
        else:
            lines.append(f"    server {t.address} down;{comment}\n")
    lines.append("}\n")
    return "".join(lines)
