"""The status endpoints of the cluster-mode processes: health as JSON and Prometheus ``/metrics``."""
from __future__ import annotations

from stackeye.collector.telemetry import PipelineMetrics
from stackeye.core.http import Response, Router


def status_router(health, metrics: PipelineMetrics) -> Router:
    """``GET /api/v1/health`` (``health()`` as JSON; 503 unless its status is ok) and ``GET /metrics``."""
    router = Router()

    @router.route("GET", "/api/v1/health")
    def _health(req):
        doc = health()
        return Response.json(doc, 200 if doc.get("status") == "ok" else 503)

    @router.route("GET", "/metrics")
    def _metrics(req):
        return Response(200, metrics.prometheus_text(), "text/plain; version=0.0.4")

    return router
