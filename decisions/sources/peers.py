"""Routing source ``peers``: the ``host:port`` servers of an upstream, as every caller's CLIENT spans see them.

Which peers make up the set: those named in the policy (a ``peers`` setting, when the policy has
one and it is not empty), else every address the upstream service answers as — the ``owners``
rollup maps ``host:port`` → service from the service's own SERVER spans over the last
:data:`OWNER_LOOKBACK` (longer than the window, so a replica that crashed and stopped reporting
is still known, and its callers' failures still count against it). Each server pools the calls of
every calling service; ``callers`` is how many services called it.
"""
from __future__ import annotations

import datetime as dt

from stackeye.decisions.sources.span_stats import server_loads as _loads
from stackeye.decisions.sources.span_stats import server_stats_sql
from stackeye.query.views import rollups
from stackeye.query.views import sql as q
from stackeye.query.views.params import Window

OWNER_LOOKBACK = dt.timedelta(hours=1)


def owned_peers_sql(service: str, window: Window) -> str:
    lookback = Window(min(window.start, window.end - OWNER_LOOKBACK), window.end)
    states = rollups.states(rollups.OWNERS, lookback, f"ServiceName = {q.lit(service)}")
    return f"SELECT DISTINCT Callee FROM ({states}) WHERE NOT startsWith(Callee, 'queue:')"


def sql(service: str, window: Window, slow_call_ms: float, peers: tuple[str, ...] = ()) -> str:
    members = f"({', '.join(q.lit(p) for p in peers)})" if peers else f"({owned_peers_sql(service, window)})"
    return server_stats_sql(
        q.PEER, f"replaceRegexpOne({q.PEER}, ':[0-9]+$', '')", "uniqExact(ServiceName)",
        q.and_all(q.kinds("Client"), f"{q.PEER} IN {members}"), window, slow_call_ms)


def server_loads(source, upstream: str, settings, window: Window) -> list:
    service = getattr(settings, "service", "") or upstream
    peers = tuple(getattr(settings, "peers", ()) or ())
    return _loads(source, sql(service, window, settings.slow_call_ms, peers), upstream, "peers")
