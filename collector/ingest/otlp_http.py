"""OTLP/HTTP receiver (binary protobuf): ``POST /v1/traces``, ``/v1/metrics``, ``/v1/logs``."""
from __future__ import annotations

import math

from google.rpc import status_pb2
from stackeye.collector.ingest.receiver import IngestError, Receiver
from stackeye.core.http import HTTPError, Request, Response, Router
from stackeye.core.signals import Signal

_HTTP_STATUS = {"INVALID_ARGUMENT": 400, "UNAUTHENTICATED": 401, "RESOURCE_EXHAUSTED": 413, "UNAVAILABLE": 503}
_PROTOBUF = "application/x-protobuf"


def otlp_http_router(receiver: Receiver) -> Router:
    router = Router()
    for signal in Signal:
        router.add("POST", signal.http_path, _handler(receiver, signal))
    return router


def _handler(receiver: Receiver, signal: Signal):
    def handle(req: Request) -> Response:
        ctype = req.headers.get("content-type", "").split(";")[0].strip()
        if ctype != _PROTOBUF:
            raise HTTPError(415, f"unsupported Content-Type {ctype!r}: stackeye takes OTLP/HTTP as {_PROTOBUF}")
        try:
            receiver.accept(signal, req.body, req.headers, "http")
        except IngestError as err:
            status = _HTTP_STATUS.get(err.status, 400)
            if err.reason == "queue_full":
                status = 503  # OTLP/HTTP: retryable
            if err.retry_after_s is not None:
                return throttled(err)
            raise HTTPError(status, err.message) from None
        return Response(200, b"", _PROTOBUF)

    return handle


def throttled(err: IngestError) -> Response:
    """429 with Retry-After (whole seconds, rounded up) and the OTLP Status body: OTLP/HTTP
    exporters retry a 429 after Retry-After."""
    body = status_pb2.Status(code=8, message=err.message).SerializeToString()  # 8: RESOURCE_EXHAUSTED
    return Response(429, body, _PROTOBUF, headers={"retry-after": str(max(1, math.ceil(err.retry_after_s)))})
