"""The HTTP stack shared by the OTLP/HTTP receiver, the API and the status endpoints.

Capabilities declare routes on a :class:`Router` — ``(method, pattern)`` with ``{name}`` segments —
with plain synchronous handlers that take a :class:`Request` (body already read, decoded and
size-checked) and return a :class:`Response`. :meth:`Router.asgi` turns the table into a Starlette
application; :class:`HTTPServer` (``http_server.py``) serves it with uvicorn.

- Handlers run in the server's thread pool, never on the event loop: they block on fsync and storage.
- Errors are JSON ``{"error": ..., **extra}``: :class:`HTTPError` from a handler or the body reader
  keeps its status; an unknown path is 404 naming it, a known path with the wrong method is 405
  naming the allowed ones; any other exception is logged and answered 500, and the server goes on.
- Responses are gzip-compressed for clients that accept it, from :data:`GZIP_MIN_BYTES` up.

More routes or middleware (auth, a dashboard, other protocols) are added here, once, for every
server.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import urllib.parse
from typing import Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import ClientDisconnect
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse
from starlette.routing import Route

from stackeye.core.http_body import read_body
from stackeye.core.http_errors import HTTPError
from stackeye.core.http_server import HTTPServer

__all__ = ["HTTPError", "HTTPServer", "Handler", "Request", "Response", "Router"]

log = logging.getLogger("stackeye.http")

# Smaller answers go out plain: under ~1 KiB gzip saves less than its header and a packet costs the same.
GZIP_MIN_BYTES = 1024
# zlib's own default: within a few percent of level 9's size at a fraction of its CPU.
GZIP_LEVEL = 6


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: bytes
    params: dict[str, str] = dataclasses.field(default_factory=dict)
    principal: object = None  # who is asking, set by the router's guard (stackeye.app.access)
    tenant: str | None = None  # the tenant the caller's queries are confined to; None: not confined

    def json(self) -> dict:
        try:
            doc = json.loads(self.body or b"null")
        except ValueError as exc:
            raise HTTPError(400, f"the request body is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise HTTPError(400, "the request body must be a JSON object")
        return doc


@dataclasses.dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = dataclasses.field(default_factory=dict)  # extra ones (retry-after…)

    @classmethod
    def json(cls, doc, status: int = 200) -> "Response":
        return cls(status, json.dumps(doc, default=str).encode(), "application/json")


Handler = Callable[[Request], Response]


class Router:
    """A route table: one handler per (method, pattern)."""

    def __init__(self) -> None:
        self._routes: dict[str, dict[str, Handler]] = {}  # pattern → method → handler
        # called as guard(request, method, pattern) before every handler: raises HTTPError to refuse
        # (401/403), may set request.principal
        self.guard: Callable[[Request, str, str], None] | None = None

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        handlers = self._routes.setdefault(pattern, {})
        method = method.upper()
        if method in handlers:
            raise ValueError(f"{method} {pattern} is routed twice")
        handlers[method] = handler

    def route(self, method: str, pattern: str):
        def deco(fn: Handler) -> Handler:
            self.add(method, pattern, fn)
            return fn
        return deco

    def asgi(self, name: str, max_body_bytes: int) -> Starlette:
        """The ASGI application serving these routes; ``name`` labels its log lines."""
        # One Starlette route per pattern, so a 405 names every method the path takes.
        routes = [Route(pattern, _endpoint(name, handlers, max_body_bytes, pattern, self), methods=list(handlers))
                  for pattern, handlers in self._routes.items()]
        return Starlette(routes=routes, exception_handlers={StarletteHTTPException: _routing_error},
                         middleware=[Middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=GZIP_LEVEL)])


    def routes(self) -> list[tuple[str, str]]:
        """(method, pattern) of every route."""
        return [(m, p) for p, handlers in self._routes.items() for m in handlers]


def _endpoint(name: str, handlers: dict[str, Handler], max_body_bytes: int, pattern: str, router: Router):
    async def endpoint(request: StarletteRequest) -> StarletteResponse:
        scope = request.scope
        method = scope["method"]
        try:
            body = await read_body(request, max_body_bytes)
            req = Request(method, scope["path"], dict(urllib.parse.parse_qsl(scope["query_string"].decode("latin-1"))),
                          dict(request.headers), body, dict(request.path_params))
            handler = handlers["GET" if method == "HEAD" else method]
            if router.guard is not None:
                handler = _guarded(router.guard, handler, "GET" if method == "HEAD" else method, pattern)
            # The loop's default executor: the server's handler pool (http_server.HANDLER_THREADS).
            resp = await asyncio.get_running_loop().run_in_executor(None, handler, req)
        except HTTPError as err:
            resp = Response.json({"error": err.message, **err.extra}, err.status)
        except ClientDisconnect:
            return StarletteResponse(status_code=400)  # the client left mid-body: nobody reads this
        except Exception as exc:  # a bug: answer 500, keep serving
            log.exception("%s: %s %s failed", name, method, scope["path"])
            resp = Response.json({"error": f"internal error: {exc}"}, 500)
        return _starlette(resp)

    return endpoint


def _guarded(guard, handler: Handler, method: str, pattern: str) -> Handler:
    def run(req: Request) -> Response:
        guard(req, method, pattern)
        return handler(req)
    return run


async def _routing_error(request: StarletteRequest, exc: StarletteHTTPException) -> StarletteResponse:
    path, status = request.scope["path"], exc.status_code
    if status == 404:
        message = f"no such endpoint: {path}"
    elif status == 405:
        allowed = sorted(m for m in (exc.headers or {}).get("Allow", "").split(", ") if m and m != "HEAD")
        message = f"{request.method} is not allowed on {path}; use {', '.join(allowed)}"
    else:
        message = exc.detail
    return _starlette(Response.json({"error": message}, status), exc.headers)


def _starlette(resp: Response, headers: dict | None = None) -> StarletteResponse:
    # The content type goes in as a header, not media_type, so Starlette sends it as written.
    return StarletteResponse(resp.body, resp.status,
                             headers={**(headers or {}), **resp.headers, "content-type": resp.content_type})
