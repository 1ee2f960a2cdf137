"""A small threaded HTTP server with a route table, shared by the OTLP/HTTP receiver and the API.

Routes are ``(method, pattern)`` with ``{name}`` segments; handlers take a :class:`Request` and
return a :class:`Response`. Errors become JSON ``{"error": ...}`` with the right status.
"""
from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import re
import socket
import threading
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from stackeye.core.address import parse_address

log = logging.getLogger("stackeye.http")


class HTTPError(Exception):
    def __init__(self, status: int, message: str, **extra):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = dataclasses.field(default_factory=dict)

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

    @classmethod
    def json(cls, doc, status: int = 200) -> "Response":
        return cls(status, json.dumps(doc, default=str).encode(), "application/json")


Handler = Callable[[Request], Response]


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern, Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        self._routes.append((method.upper(), regex, handler))

    def route(self, method: str, pattern: str):
        def deco(fn: Handler) -> Handler:
            self.add(method, pattern, fn)
            return fn
        return deco

    def dispatch(self, req: Request) -> Response:
        allowed = []
        for method, regex, handler in self._routes:
            m = regex.match(req.path)
            if m:
                if method != req.method:
                    allowed.append(method)
                    continue
                req.params = m.groupdict()
                return handler(req)
        if allowed:
            raise HTTPError(405, f"{req.method} is not allowed on {req.path}; use {', '.join(sorted(set(allowed)))}")
        raise HTTPError(404, f"no such endpoint: {req.path}")


def _decompress(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, zlib.error, EOFError) as exc:
        raise HTTPError(400, f"the body is not valid {encoding}: {exc}") from None
    raise HTTPError(415, f"unsupported Content-Encoding {encoding!r}: use gzip, deflate or none")


class _ThreadingHTTPServerV6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class HTTPServer:
    def __init__(self, router: Router, address: str, name: str, max_body_bytes: int = 64 << 20):
        router_ = router
        limit = max_body_bytes

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "stackeye"

            def log_message(self, fmt, *args):  # quiet: requests are counted, not logged
                log.debug("%s " + fmt, name, *args)

            def _handle(self):
                parts = urllib.parse.urlsplit(self.path)
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    if length > limit:
                        raise HTTPError(413, f"request body of {length} bytes is over the limit of {limit}")
                    raw = self.rfile.read(length) if length else b""
                    req = Request(
                        self.command, parts.path, dict(urllib.parse.parse_qsl(parts.query)),
                        {k.lower(): v for k, v in self.headers.items()},
                        _decompress(raw, self.headers.get("Content-Encoding", "")),
                    )
                    resp = router_.dispatch(req)
                except HTTPError as err:
                    resp = Response.json({"error": err.message, **err.extra}, err.status)
                except Exception as exc:  # a bug: answer 500, keep serving
                    log.exception("%s: %s %s failed", name, self.command, parts.path)
                    resp = Response.json({"error": f"internal error: {exc}"}, 500)
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.content_type)
                self.send_header("Content-Length", str(len(resp.body)))
                self.end_headers()
                self.wfile.write(resp.body)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        try:
            where = parse_address(address, listen=True)
            server = _ThreadingHTTPServerV6 if ":" in where.host else ThreadingHTTPServer
            self.httpd = server((where.host, where.port), _Handler)
        except (OSError, ValueError) as exc:
            raise OSError(f"cannot listen for {name} on {address}: {exc}") from None
        self.httpd.daemon_threads = True
        self.address = address
        self.name = name
        self._thread = threading.Thread(target=self.httpd.serve_forever, name=f"http-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()
        log.info("%s listening on http://%s", self.name, self.address)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
