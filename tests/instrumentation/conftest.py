"""Fixtures for the instrumentation tests: a local downstream HTTP server and app launchers.

Apps live in ``apps/`` and run as subprocesses (real servers, real clients, real OTLP/gRPC to
``stackeye up``).
"""
from __future__ import annotations

import http.server
import os
import signal
import subprocess
import threading
import urllib.request

import pytest
from support.logs import log_tail
from support.services import free_port, port_open
from support.wait import wait_until

APPS = os.path.join(os.path.dirname(__file__), "apps")


class _Downstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"in stock"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def downstream():
    """A plain (uninstrumented) HTTP server on loopback: the app's outbound call target."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Downstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class App:
    """A test app in a subprocess, listening on ``self.url``."""

    def __init__(self, argv: list[str], env: dict, port: int, log_path: str):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=APPS)

    def wait_ready(self, timeout: float = 60.0) -> "App":
        def listening() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited with {self.proc.returncode}:\n{self.log()}")
            return port_open("127.0.0.1", self.port)

        wait_until(listening, timeout=timeout, message=lambda: f"app not listening on {self.port}\n{self.log()}")
        return self

    def get(self, path: str, timeout: float = 30.0) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def stop(self, sig=signal.SIGINT, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def log(self) -> str:
        return log_tail(self.log_path, n=6000)


@pytest.fixture
def launch(tmp_path, downstream):
    """``launch(argv or argv(port), endpoint, service=None, **env)`` -> a started :class:`App` (killed after)."""
    apps: list[App] = []

    def start(argv, endpoint: str, service: str | None = None, **env) -> App:
        port = free_port()
        if callable(argv):  # argv(port) for servers that take the port on their command line
            argv = argv(port)
        full_env = dict(os.environ, PORT=str(port), DOWNSTREAM_URL=downstream, STACKEYE_ENDPOINT=endpoint,
                        PYTHONUNBUFFERED="1", **{k: str(v) for k, v in env.items()})
        if service:
            full_env["STACKEYE_SERVICE_NAME"] = service
        app = App(argv, full_env, port, str(tmp_path / f"app-{len(apps)}.log"))
        apps.append(app)
        return app.wait_ready()

    yield start
    for app in apps:
        app.stop(sig=signal.SIGKILL)
