"""Easegress: a ``Proxy`` filter whose first pool holds the servers that take traffic, with weights.

::

    kind: Proxy
    name: proxy-checkout
    pools:
      - loadBalance:
          policy: weightedRandom
        servers:
          - url: "http://10.0.0.5:8080"
            weight: 100

Easegress' pool servers have no "down" flag: a server ejected, drained, behind an open breaker or
at weight 0 is left out of ``servers``. When that leaves none, rendering fails rather than hand
Easegress an empty pool. YAML by default (strings written JSON-quoted, which YAML reads as
they are), JSON with ``options.output = "json"``.
"""
from __future__ import annotations

import json

from stackeye.decisions.gateways.targets import RenderError, RenderOptions, targets

OUTPUTS = ("yaml", "json")


def spec(upstream: str, decisions, options: RenderOptions) -> dict:
    servers = targets(upstream, decisions, options)
    ready = [{"url": f"{options.scheme}://{t.address}", "weight": t.weight}
             for t in servers if t.mode == "ready" and t.weight > 0]
    if not ready:
        raise RenderError(f"no server of upstream {upstream!r} may take traffic ({len(servers)} decisions, every "
                          "one down, drained or at weight 0): refusing to render an empty Easegress pool")
    return {"kind": "Proxy", "name": f"proxy-{options.backend or upstream}",
            "pools": [{"loadBalance": {"policy": "weightedRandom"}, "servers": ready}]}


def render(upstream: str, decisions, options: RenderOptions) -> str:
    output = options.output or "yaml"
    if output not in OUTPUTS:
        raise RenderError(f"Easegress renders {' or '.join(OUTPUTS)}, not {output!r}")
    value = spec(upstream, decisions, options)
    if output == "json":
        return json.dumps(value, indent=2) + "\n"
    q = json.dumps
    lines = [f"kind: {value['kind']}\n", f"name: {q(value['name'])}\n", "pools:\n",
             "  - loadBalance:\n", "      policy: weightedRandom\n", "    servers:\n"]
    for s in value["pools"][0]["servers"]:
        lines += [f"      - url: {q(s['url'])}\n", f"        weight: {s['weight']}\n"]
    return "".join(lines)
