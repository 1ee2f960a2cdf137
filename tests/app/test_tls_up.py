"""``stackeye up --tls-cert``: every listener speaks TLS, plaintext is refused, SIGHUP swaps the
certificate without a restart; and the exposure guard: no open non-loopback listener without auth."""
from __future__ import annotations

import http.client
import shutil
import signal
import socket
import ssl
import subprocess
import sys

import grpc
import pytest
from stackeye.app.exposure import check_exposure
from stackeye.app.up_config import UpConfig
from stackeye.core.config import ConfigError, load
from support.certs import make_ca, make_leaf
from support.otlp_builders import spans_request
from support.services import free_port
from support.tls_server import TLSStackeyeServer
from support.wait import wait_until

TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@pytest.fixture
def certs(tmp_path):
    make_ca(tmp_path)
    make_leaf(tmp_path, "server", serial=101)
    make_leaf(tmp_path, "renewed", serial=202)
    shutil.copy(tmp_path / "server.pem", tmp_path / "served.pem")
    shutil.copy(tmp_path / "server.key", tmp_path / "served.key")
    return tmp_path


def _serial(context: ssl.SSLContext, port: int) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as conn:
            return int(conn.getpeercert()["serialNumber"], 16)


def _plaintext_http_answer(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as plain:
        plain.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        try:
            return plain.recv(4096)
        except ConnectionResetError:
            return b""


def test_up_serves_tls_on_grpc_otlp_http_and_the_api_and_reloads_on_sighup(tmp_path, certs):
    grpc_port = free_port()
    srv = TLSStackeyeServer(str(tmp_path / "data"), certs, ["--otlp-grpc", f"0.0.0.0:{grpc_port}", "--insecure"])
    srv.grpc_port = grpc_port
    srv.start()
    try:
        # OTLP/gRPC export over TLS, verified against the CA
        creds = grpc.ssl_channel_credentials((certs / "ca.pem").read_bytes())
        with grpc.secure_channel(f"localhost:{grpc_port}", creds) as channel:
            channel.unary_unary(TRACES)(spans_request("tls-grpc", 3).SerializeToString(), timeout=30)
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel, pytest.raises(grpc.RpcError) as err:
            channel.unary_unary(TRACES)(spans_request("plain-grpc", 1).SerializeToString(), timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        # OTLP/HTTP POST over TLS
        conn = http.client.HTTPSConnection("localhost", srv.otlp_http_port, context=srv.context, timeout=30)
        conn.request("POST", "/v1/traces", spans_request("tls-http", 2).SerializeToString(),
                     {"Content-Type": "application/x-protobuf"})
        assert conn.getresponse().status == 200
        conn.close()
        assert b"HTTP/1.1" not in _plaintext_http_answer(srv.otlp_http_port)
        # the API over TLS (start() already waited on /api/v1/health through HTTPS)
        assert srv.wait_for_count("SELECT count() FROM otel_traces WHERE ServiceName IN ('tls-grpc', 'tls-http')", 5) == 5
        assert srv.sql("SELECT count() AS n FROM otel_traces WHERE ServiceName = 'plain-grpc'")[0]["n"] == 0
        assert b"HTTP/1.1" not in _plaintext_http_answer(srv.http_port)

        # SIGHUP: the renewed certificate reaches new connections on every listener, same process
        assert {_serial(srv.context, p) for p in (grpc_port, srv.otlp_http_port, srv.http_port)} == {101}
        shutil.copy(certs / "renewed.pem", certs / "served.pem")
        shutil.copy(certs / "renewed.key", certs / "served.key")
        pid = srv.proc.pid
        srv.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: {_serial(srv.context, p) for p in (grpc_port, srv.otlp_http_port, srv.http_port)} == {202},
                   timeout=30, interval=0.2, message=lambda: f"the renewed certificate is not served\n{srv.log_tail()}")
        # a broken file on the next SIGHUP keeps the renewed certificate and says why
        (certs / "served.pem").write_text("garbage\n")
        srv.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "TLS reload failed" in srv.log_tail(), timeout=30, interval=0.2)
        assert _serial(srv.context, srv.http_port) == 202
        assert srv.proc.pid == pid and srv.proc.poll() is None and srv.health()["status"] == "ok"
    finally:
        assert srv.stop() == 0


def _up(*args, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stackeye.cli.main", "up", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_an_open_listener_without_auth_exits_2_naming_the_fixes(tmp_path):
    out = _up("--data-dir", str(tmp_path / "data"), "--otlp-grpc", f"0.0.0.0:{free_port()}")
    assert out.returncode == 2, out.stderr
    for fix in ("--otlp-grpc 0.0.0.0:", "--token", "--api-key", "stackeye tenants create", "--insecure"):
        assert fix in out.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was created


@pytest.mark.parametrize("settings,refused", [
    ({}, False),  # loopback everywhere
    ({"otlp_grpc": "0.0.0.0:4317"}, True),
    ({"http": "[::]:8080"}, True),
    ({"otlp_http": "192.168.1.20:4318"}, True),
    ({"http": "localhost:8080", "otlp_http": "[::1]:4318"}, False),
    ({"otlp_grpc": "0.0.0.0:4317", "insecure": True}, False),
    ({"otlp_grpc": "0.0.0.0:4317", "tokens": ["s3cret=teamA"]}, False),
])
def test_check_exposure(settings, refused):
    config = load(UpConfig, env={}, flags=settings)
    if refused:
        with pytest.raises(ConfigError, match="--insecure"):
            check_exposure(config, auth_configured=bool(config.tokens))
    else:
        check_exposure(config, auth_configured=bool(config.tokens))
    check_exposure(config, auth_configured=True)  # a key store with keys (stackeye.auth) counts as auth


def test_bad_tls_settings_exit_2_naming_the_fix(tmp_path, certs):
    out = _up("--data-dir", str(tmp_path / "d1"), "--tls-key", str(certs / "server.key"))
    assert out.returncode == 2 and "--tls-cert" in out.stderr, out.stderr
    out = _up("--data-dir", str(tmp_path / "d2"), "--tls-cert", str(certs / "nope.pem"))
    assert out.returncode == 2 and "nope.pem" in out.stderr and "no such file" in out.stderr, out.stderr
    out = _up("--data-dir", str(tmp_path / "d3"), "--tls-cert", str(certs / "server.pem"), "--tls-key",
              str(certs / "renewed.key"))
    assert out.returncode == 2 and "renewed.key" in out.stderr and "--tls-key" in out.stderr, out.stderr
    out = _up("--data-dir", str(tmp_path / "d4"), "--client-ca", str(certs / "ca.pem"))
    assert out.returncode == 2 and "--tls-cert" in out.stderr, out.stderr


def test_the_collector_has_the_same_guard_and_tls_checks(certs):
    def collector(*args):
        return subprocess.run([sys.executable, "-m", "stackeye.cli.main", "collector", "--kafka", "127.0.0.1:1", *args],
                              capture_output=True, text=True, timeout=60)

    out = collector("--otlp-http", "0.0.0.0:0")
    assert out.returncode == 2 and "--otlp-http 0.0.0.0:0" in out.stderr and "--insecure" in out.stderr, out.stderr
    out = collector("--tls-key", str(certs / "server.key"))
    assert out.returncode == 2 and "--tls-cert" in out.stderr, out.stderr
