"""The HTTP stack (stackeye.core.http) on a real server on a free port: bodies, limits, keep-alive,
compression, errors, TLS, threads."""
from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import socket
import ssl
import threading
import zlib

import pytest
from stackeye.core.http import HTTPError, HTTPServer, Request, Response, Router
from stackeye.core.tls import ServerTLS, TLSFiles
from support.certs import make_certs

LIMIT = 64 << 10


def _router(release: threading.Event | None = None) -> Router:
    router = Router()

    @router.route("POST", "/echo")
    def echo(req: Request) -> Response:
        return Response.json({"bytes": len(req.body), "sha256": hashlib.sha256(req.body).hexdigest()})

    @router.route("GET", "/items/{name}")
    def item(req: Request) -> Response:
        return Response.json({"name": req.params["name"], "query": req.query})

    @router.route("DELETE", "/items/{name}")
    def delete(req: Request) -> Response:
        raise HTTPError(409, f"{req.params['name']} is in use", item=req.params["name"])

    @router.route("GET", "/big")
    def big(req: Request) -> Response:
        return Response.json({"rows": [[i, f"row-{i}"] for i in range(2000)]})

    @router.route("GET", "/boom")
    def boom(req: Request) -> Response:
        raise RuntimeError("the handler broke")

    @router.route("GET", "/wait")
    def wait(req: Request) -> Response:
        assert release is not None and release.wait(30), "never released"
        return Response.json({"waited": True})

    return router


@pytest.fixture
def server():
    release = threading.Event()
    srv = HTTPServer(_router(release), "127.0.0.1:0", "test", max_body_bytes=LIMIT)
    srv.start()
    srv.release = release
    yield srv
    release.set()
    srv.stop()


def _conn(server) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)


def _ask(conn, method: str, path: str, body=None, headers=None, **kw) -> tuple[int, dict, bytes]:
    conn.request(method, path, body=body, headers=headers or {}, **kw)
    resp = conn.getresponse()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()


def _raw(server, head: bytes, body_parts=()) -> tuple[int, dict]:
    """Send a hand-made request (possibly incomplete) on a socket and read the answer."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        sock.sendall(head)
        for part in body_parts:
            sock.sendall(part)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        return resp.status, json.loads(resp.read())
    finally:
        sock.close()


def test_chunked_request_body_is_read_whole(server):
    payload = bytes(range(256)) * 100  # 25.6 KB in 10 chunks
    parts = (payload[i:i + 2560] for i in range(0, len(payload), 2560))
    status, _, body = _ask(_conn(server), "POST", "/echo", parts, {"Transfer-Encoding": "chunked"}, encode_chunked=True)
    assert status == 200
    assert json.loads(body) == {"bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}


def test_keep_alive_serves_requests_on_one_connection(server):
    conn = _conn(server)
    assert _ask(conn, "GET", "/items/a")[0] == 200
    first = conn.sock
    assert first is not None, "the server closed the connection after one request"
    local = first.getsockname()
    status, _, body = _ask(conn, "GET", "/items/b?x=1&y=")
    assert status == 200 and json.loads(body) == {"name": "b", "query": {"x": "1"}}
    assert conn.sock is first and conn.sock.getsockname() == local


def test_gzip_and_deflate_request_bodies_are_decoded(server):
    payload = b"span " * 5000
    for encoding, encoded in (("gzip", gzip.compress(payload)), ("deflate", zlib.compress(payload)),
                              ("gzip", gzip.compress(payload[:100]) + gzip.compress(payload[100:]))):  # two members
        status, _, body = _ask(_conn(server), "POST", "/echo", encoded, {"Content-Encoding": encoding})
        assert status == 200, body
        assert json.loads(body)["sha256"] == hashlib.sha256(payload).hexdigest()


def test_responses_are_gzipped_for_clients_that_accept_it_and_small_ones_stay_plain(server):
    conn = _conn(server)
    status, headers, body = _ask(conn, "GET", "/big", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert len(json.loads(gzip.decompress(body))["rows"]) == 2000
    status, headers, body = _ask(conn, "GET", "/items/a", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and "content-encoding" not in headers and json.loads(body)["name"] == "a"
    status, headers, body = _ask(conn, "GET", "/big")
    assert "content-encoding" not in headers and len(json.loads(body)["rows"]) == 2000


def test_oversized_body_is_413_before_it_is_read(server):
    # Content-Length over the limit; only a little of the body is ever sent: the answer comes anyway.
    head = (f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {10 * LIMIT}\r\n\r\n").encode()
    status, doc = _raw(server, head, [b"x" * 1000])
    assert status == 413 and doc["limit"] == LIMIT
    assert f"{10 * LIMIT} bytes is over the limit of {LIMIT} bytes" in doc["error"]


def test_oversized_chunked_body_is_413_while_it_streams(server):
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"%x\r\n%s\r\n" % (8192, b"y" * 8192)
    status, doc = _raw(server, head, [chunk] * (LIMIT // 8192 + 1))  # no last chunk: the upload never ends
    assert status == 413 and doc["limit"] == LIMIT and f"over the limit of {LIMIT} bytes" in doc["error"]


def test_gzip_bomb_is_413_not_memory(server):
    bomb = gzip.compress(b"\0" * (16 << 20))  # 16 MiB of zeros in 16 KB: far under the limit on the wire
    assert len(bomb) < LIMIT
    status, _, body = _ask(_conn(server), "POST", "/echo", bomb, {"Content-Encoding": "gzip"})
    doc = json.loads(body)
    assert status == 413 and doc["limit"] == LIMIT and "gzip-decoded request body is over the limit" in doc["error"]


def test_bad_or_unknown_content_encoding(server):
    conn = _conn(server)
    status, _, body = _ask(conn, "POST", "/echo", b"not gzip at all", {"Content-Encoding": "gzip"})
    assert status == 400 and "not valid gzip" in json.loads(body)["error"]
    status, _, body = _ask(conn, "POST", "/echo", gzip.compress(b"x" * 1000)[:-12], {"Content-Encoding": "gzip"})
    assert status == 400 and "ends before the compressed stream" in json.loads(body)["error"]
    status, _, body = _ask(conn, "POST", "/echo", b"x", {"Content-Encoding": "br"})
    assert status == 415 and "use gzip, deflate or none" in json.loads(body)["error"]


def test_404_names_the_path_and_405_the_allowed_methods(server):
    conn = _conn(server)
    status, _, body = _ask(conn, "GET", "/nowhere/x")
    assert status == 404 and json.loads(body) == {"error": "no such endpoint: /nowhere/x"}
    status, headers, body = _ask(conn, "POST", "/items/a")
    assert status == 405 and json.loads(body) == {"error": "POST is not allowed on /items/a; use DELETE, GET"}
    assert "DELETE" in headers["allow"]
    status, _, body = _ask(conn, "GET", "/echo")
    assert status == 405 and json.loads(body)["error"] == "GET is not allowed on /echo; use POST"


def test_http_error_keeps_its_status_and_extra_fields(server):
    status, headers, body = _ask(_conn(server), "DELETE", "/items/a")
    assert status == 409 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": "a is in use", "item": "a"}


def test_a_handler_exception_is_500_logged_and_the_server_goes_on(server, caplog):
    conn = _conn(server)
    status, _, body = _ask(conn, "GET", "/boom")
    assert status == 500 and json.loads(body) == {"error": "internal error: the handler broke"}
    assert "test: GET /boom failed" in caplog.text and "RuntimeError: the handler broke" in caplog.text
    assert _ask(conn, "GET", "/items/after")[0] == 200


def test_a_blocked_handler_does_not_block_other_requests(server):
    waiting = _conn(server)
    waiting.request("GET", "/wait")  # its handler blocks in the thread pool until released
    assert _ask(_conn(server), "GET", "/items/meanwhile")[0] == 200
    server.release.set()
    resp = waiting.getresponse()
    assert resp.status == 200 and json.loads(resp.read()) == {"waited": True}


def test_a_taken_port_fails_in_the_constructor(server):
    with pytest.raises(OSError, match=rf"cannot listen for other on 127.0.0.1:{server.port}: "):
        HTTPServer(_router(), f"127.0.0.1:{server.port}", "other")
    with pytest.raises(OSError, match="cannot listen for other on nowhere: "):
        HTTPServer(_router(), "nowhere", "other")


def test_stop_closes_idle_keep_alive_connections(server):
    conn = _conn(server)
    assert _ask(conn, "GET", "/items/a")[0] == 200
    server.stop()
    assert conn.sock.recv(1) == b""  # closed by the server, not left to its keep-alive timeout
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2)


def test_tls_with_a_self_signed_certificate(tmp_path):
    make_certs(tmp_path)
    tls = ServerTLS(TLSFiles(str(tmp_path / "server.pem"), str(tmp_path / "server.key")))
    srv = HTTPServer(_router(), "127.0.0.1:0", "tls", ssl_context=tls.ssl_context())
    srv.start()
    try:
        ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        conn = http.client.HTTPSConnection("localhost", srv.port, context=ctx, timeout=10)
        status, _, body = _ask(conn, "GET", "/items/secure")
        assert status == 200 and json.loads(body)["name"] == "secure"
        assert _ask(conn, "POST", "/echo", b"abc")[0] == 200  # keep-alive over TLS too
    finally:
        srv.stop()
