"""The HTTP API of a running stackeye: health, SQL, Prometheus metrics, and the query layer's routes.

- ``GET  /api/v1/health``  → status, version, queue depth, rows written, rejected counts
- ``POST /api/v1/sql``     → ``{"query": "..."}`` → ``{"columns", "types", "rows", "elapsed_ms"}``;
  read-only, limited in result rows, time, memory and threads; ClickHouse's error text with status 400
  (over a limit: ``{"error", "limit"}``, the message naming the setting that raises it)
- ``GET  /metrics``        → the pipeline's self-telemetry, Prometheus text

More routes (views, triggers, decisions) plug in through ``ROUTES``: one line each, naming a
``register(router, context)`` function.
"""
from __future__ import annotations

import importlib

from stackeye.core.http import HTTPError, Request, Response, Router
from stackeye.core.version import __version__
from stackeye.storage.base import QueryError, QueryLimitExceeded
from stackeye.storage.tenant_scope import scoped

# One line per module that adds routes: "module:function", called as function(router, context).
ROUTES: list[str] = [
    "stackeye.query.views_api:register",
]


def api_router(context) -> Router:
    """``context`` has .storage, .metrics, .queue (may be None) and .writer (may be None)."""
    router = Router()

    @router.route("GET", "/api/v1/health")
    def health(req: Request) -> Response:
        return Response.json(health_doc(context))

    @router.route("POST", "/api/v1/sql")
    def sql(req: Request) -> Response:
        query = req.json().get("query")
        if not isinstance(query, str) or not query.strip():
            raise HTTPError(400, 'the body must be {"query": "<SQL>"}', parameter="query")
        try:
            result = scoped(context.storage, req.tenant).query(query, untrusted=True)
        except QueryError as exc:  # a QueryLimitExceeded also names the limit (its message: the setting to raise)
            raise HTTPError(400, str(exc), code=exc.code, **({"limit": exc.limit} if isinstance(exc, QueryLimitExceeded)
                                                            else {})) from None
        return Response.json({"columns": result.columns, "types": result.types, "rows": result.rows,
                              "elapsed_ms": round(result.elapsed_ms, 3)})

    @router.route("GET", "/metrics")
    def metrics(req: Request) -> Response:
        return Response(200, context.metrics.prometheus_text(), "text/plain; version=0.0.4")

    for spec in ROUTES:
        module, _, func = spec.partition(":")
        getattr(importlib.import_module(module), func)(router, context)
    return router


def health_doc(context) -> dict:
    m = context.metrics
    rejected: dict[str, float] = {}
    for metric in m.rejected_requests.collect():
        for s in metric.samples:
            if s.name.endswith("_total"):
                reason = s.labels["reason"]
                rejected[reason] = rejected.get(reason, 0) + s.value
    queue = context.queue
    writer = context.writer
    doc = {
        "status": "ok",
        "version": __version__,
        "storage": context.storage_url,
        "queue_bytes": queue.depth()[1] if queue is not None else None,
        "received_items": int(m.total(m.received_items)),
        "rows_written": int(m.total(m.written_rows)),
        "rejected": {k: int(v) for k, v in sorted(rejected.items())},
        "dead_letters": int(m.total(m.dead_letters)),
        "duplicates": int(m.total(m.duplicate_requests)),
    }
    if writer is not None and writer.last_error:
        doc["status"] = "degraded"
        doc["writer_error"] = writer.last_error
    return doc
