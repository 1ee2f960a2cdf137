"""Routing source ``instances``: the replicas of a service, as their own SERVER spans report them.

The upstream set is the service named by the policy's ``service`` setting (default: the table's
key); each server is one replica (``service.instance.id``, see ``rollups.INSTANCE``) on its host.
The SERVER spans of a replica hold every caller's requests, so the view is pooled already; the
callers counted are the distinct ``client.address`` values when the spans carry them.
"""
from __future__ import annotations

from stackeye.decisions.sources.span_stats import server_loads as _loads
from stackeye.decisions.sources.span_stats import server_stats_sql
from stackeye.query.views import rollups
from stackeye.query.views import sql as q
from stackeye.query.views.params import Window

CLIENT_ADDRESS = "SpanAttributes['client.address']"


def sql(service: str, window: Window, slow_call_ms: float) -> str:
    return server_stats_sql(
        rollups.INSTANCE, q.HOST_NAME, f"uniqExactIf({CLIENT_ADDRESS}, {CLIENT_ADDRESS} != '')",
        q.and_all(f"ServiceName = {q.lit(service)}", q.kinds("Server")), window, slow_call_ms)


def server_loads(source, upstream: str, settings, window: Window) -> list:
    service = getattr(settings, "service", "") or upstream
    return _loads(source, sql(service, window, settings.slow_call_ms), upstream, "instances")
