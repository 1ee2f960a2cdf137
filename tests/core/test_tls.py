"""ServerTLS against real HTTPS and gRPC servers: verified clients get in, plaintext and (with a
client CA) clients without a certificate do not, and a reload swaps the certificate new connections see."""
from __future__ import annotations

import http.client
import shutil
import socket
import ssl
from concurrent import futures

import grpc
import pytest
from stackeye.core.http import HTTPServer, Response, Router
from stackeye.core.tls import ServerTLS, TLSError, TLSFiles
from support.certs import make_ca, make_leaf

SERVICE, METHOD = "stackeye.test.Echo", "/stackeye.test.Echo/Call"


@pytest.fixture
def certs(tmp_path):
    make_ca(tmp_path)
    make_leaf(tmp_path, "server", serial=101)
    make_leaf(tmp_path, "renewed", serial=202)
    make_leaf(tmp_path, "agent", serial=303, client=True)
    make_ca(tmp_path, "other-ca")
    make_leaf(tmp_path, "stranger", ca="other-ca", serial=404, client=True)
    return tmp_path


def _files(d, client_ca: bool = False) -> TLSFiles:
    return TLSFiles(str(d / "served.pem"), str(d / "served.key"), str(d / "ca.pem") if client_ca else "")


def _serve(d, name: str) -> None:
    """Make ``name``'s pair the one at the served paths (what a certificate renewal does)."""
    shutil.copy(d / f"{name}.pem", d / "served.pem")
    shutil.copy(d / f"{name}.key", d / "served.key")


def _client(d, cert: str = "") -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(d / "ca.pem"))
    if cert:
        context.load_cert_chain(str(d / f"{cert}.pem"), str(d / f"{cert}.key"))
    return context


@pytest.fixture
def https(certs):
    _serve(certs, "server")
    tls = ServerTLS(_files(certs))
    router = Router()
    router.add("GET", "/hello", lambda request: Response.json({"hello": "tls"}))
    srv = HTTPServer(router, "127.0.0.1:0", "tls-test", ssl_context=tls.ssl_context())
    srv.start()
    yield tls, srv
    srv.stop()


def _https_serial(d, port: int, cert: str = "") -> int:
    conn = http.client.HTTPSConnection("localhost", port, context=_client(d, cert), timeout=10)
    try:
        conn.request("GET", "/hello")
        resp = conn.getresponse()
        assert resp.status == 200 and b"tls" in resp.read()
        return int(conn.sock.getpeercert()["serialNumber"], 16)
    finally:
        conn.close()


def test_https_serves_verified_clients_and_refuses_plaintext(certs, https):
    tls, srv = https
    assert _https_serial(certs, srv.port) == 101
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as plain:
        plain.sendall(b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        answer = plain.recv(4096)
    assert b"HTTP/1.1 200" not in answer and b"tls" not in answer  # no plaintext answer on a TLS port


def test_sighup_style_reload_swaps_the_https_certificate_and_a_bad_file_keeps_the_old(certs, https):
    tls, srv = https
    _serve(certs, "renewed")
    assert tls.reload() is True
    assert _https_serial(certs, srv.port) == 202  # a new connection, the same listener
    (certs / "served.pem").write_text("not a certificate\n")
    assert tls.reload() is False
    assert _https_serial(certs, srv.port) == 202
    shutil.copy(certs / "server.pem", certs / "served.pem")  # a certificate whose key is elsewhere
    assert tls.reload() is False
    assert _https_serial(certs, srv.port) == 202


def test_https_with_a_client_ca_needs_a_client_certificate(certs):
    _serve(certs, "server")
    tls = ServerTLS(_files(certs, client_ca=True))
    router = Router()
    router.add("GET", "/hello", lambda request: Response.json({"hello": "tls"}))
    srv = HTTPServer(router, "127.0.0.1:0", "mtls-test", ssl_context=tls.ssl_context())
    srv.start()
    try:
        assert _https_serial(certs, srv.port, cert="agent") == 101
        for cert in ("", "stranger"):  # none, or one a CA we do not trust signed
            with pytest.raises((ssl.SSLError, ConnectionError)):
                _https_serial(certs, srv.port, cert=cert)
    finally:
        srv.stop()


@pytest.fixture
def grpc_server(certs):
    def start(client_ca: bool = False):
        _serve(certs, "server")
        tls = ServerTLS(_files(certs, client_ca))
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, {"Call": grpc.unary_unary_rpc_method_handler(
            lambda raw, ctx: b"pong:" + raw, request_deserializer=None, response_serializer=None)})])
        port = server.add_secure_port("127.0.0.1:0", tls.grpc_credentials())
        server.start()
        started.append(server)
        return tls, port

    started: list = []
    yield start
    for server in started:
        server.stop(0)


def _call(d, port: int, cert: str = "", secure: bool = True) -> bytes:
    if secure:
        key = (d / f"{cert}.key").read_bytes() if cert else None
        chain = (d / f"{cert}.pem").read_bytes() if cert else None
        creds = grpc.ssl_channel_credentials((d / "ca.pem").read_bytes(), key, chain)
        channel = grpc.secure_channel(f"localhost:{port}", creds)
    else:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    with channel:
        return channel.unary_unary(METHOD)(b"ping", timeout=10)


def _grpc_serial(d, port: int) -> int:
    """The serial of the certificate a new TLS connection to the gRPC port is shown."""
    context = _client(d)
    context.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as conn:
            return int(conn.getpeercert()["serialNumber"], 16)


def test_grpc_serves_verified_clients_and_refuses_plaintext(certs, grpc_server):
    tls, port = grpc_server()
    assert _call(certs, port) == b"pong:ping"
    with pytest.raises(grpc.RpcError) as err:
        _call(certs, port, secure=False)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_reload_swaps_the_grpc_certificate_for_new_connections(certs, grpc_server):
    tls, port = grpc_server()
    assert _grpc_serial(certs, port) == 101
    _serve(certs, "renewed")
    assert tls.reload() is True
    assert _grpc_serial(certs, port) == 202
    assert _call(certs, port) == b"pong:ping"
    (certs / "served.key").write_text("-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n")
    assert tls.reload() is False
    assert _grpc_serial(certs, port) == 202


def test_grpc_with_a_client_ca_needs_a_client_certificate(certs, grpc_server):
    tls, port = grpc_server(client_ca=True)
    assert _call(certs, port, cert="agent") == b"pong:ping"
    for cert in ("", "stranger"):
        with pytest.raises(grpc.RpcError) as err:
            _call(certs, port, cert=cert)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_unusable_files_are_named_with_the_fix(certs):
    with pytest.raises(TLSError, match=r"cannot read the TLS certificate .*missing.pem.*--tls-cert"):
        ServerTLS(TLSFiles(str(certs / "missing.pem"), str(certs / "server.key")))
    with pytest.raises(TLSError, match=r"cannot use the TLS certificate .*server.pem.*renewed.key.*--tls-key"):
        ServerTLS(TLSFiles(str(certs / "server.pem"), str(certs / "renewed.key")))
    (certs / "junk.pem").write_text("hello\n")
    with pytest.raises(TLSError, match=r"client CA .*junk.pem.* is not PEM.*--client-ca"):
        ServerTLS(TLSFiles(str(certs / "server.pem"), str(certs / "server.key"), str(certs / "junk.pem")))
