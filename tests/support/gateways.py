"""Real nginx and HAProxy processes for the gateway tests, and tiny HTTP servers behind them.

Both gateways run in the foreground on free loopback ports with every file (config, pid, logs,
temp dirs, the admin socket) in a temporary directory, so tests need no root and leave nothing
behind. The fixtures return factories; a closed-loop test can start either gateway in front of
its own backends.
"""
from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import threading
import urllib.request

import pytest

from .processes import stop_process
from .services import free_port, port_open, require
from .wait import wait_until

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


class Backend:
    """An HTTP server on a free port answering every GET with its name; counts the requests."""

    def __init__(self, name: str):
        self.name, self.hits = name, 0
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                backend.hits += 1
                body = backend.name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read().decode()


def nginx_main_conf(root: str, include: str, port: int, upstream: str) -> str:
    """A main nginx.conf: pid, logs and temp dirs under ``root``, ``include`` inside http {}, and a
    server on ``port`` proxying to ``upstream``."""
    temp = "\n".join(f"    {d}_temp_path {root}/tmp/{d};" for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {root}/access.log;
{temp}
    include {include};
    server {{
        listen 127.0.0.1:{port};
        location / {{ proxy_pass http://{upstream}; proxy_next_upstream off; }}
    }}
}}
"""


class NginxProcess:
    """nginx -p root -c root/nginx.conf in the foreground; the upstream file is root/upstreams.conf."""

    def __init__(self, root: str, upstream: str, upstream_text: str):
        self.root, self.port = root, free_port()
        os.makedirs(os.path.join(root, "tmp"), exist_ok=True)
        self.main_conf = os.path.join(root, "nginx.conf")
        self.upstream_conf = os.path.join(root, "upstreams.conf")
        with open(self.upstream_conf, "w") as f:
            f.write(upstream_text)
        with open(self.main_conf, "w") as f:
            f.write(nginx_main_conf(root, self.upstream_conf, self.port, upstream))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def argv(self, *args: str) -> list[str]:
        return [NGINX, "-e", "stderr", "-p", self.root, "-c", self.main_conf, *args]

    def start(self) -> "NginxProcess":
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        wait_until(lambda: self._alive() and port_open("127.0.0.1", self.port), timeout=15,
                   message=lambda: f"nginx did not listen on {self.port}: {self.error_log()}")
        return self

    def _alive(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"nginx exited {self.proc.returncode}: {self.proc.stdout.read().decode()}")
        return True

    def workers(self) -> set[int]:
        """The pids of the master's worker processes (a reload starts new ones; the old finish and exit)."""
        import psutil

        try:
            return {c.pid for c in psutil.Process(self.proc.pid).children()}
        except psutil.NoSuchProcess:
            return set()

    def error_log(self) -> str:
        path = os.path.join(self.root, "error.log")
        return open(path).read()[-3000:] if os.path.exists(path) else ""

    def stop(self) -> None:
        stop_process(self.proc)


def haproxy_config(root: str, port: int, backend: str, servers: dict[str, str]) -> str:
    """A haproxy.cfg: admin socket root/admin.sock, a frontend on ``port``, ``backend`` with ``servers``
    (name → host:port), round robin."""
    lines = "".join(f"    server {name} {address} weight 100\n" for name, address in servers.items())
    return f"""global
    stats socket {root}/admin.sock level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{port}
    default_backend {backend}
backend {backend}
    balance roundrobin
{lines}"""


class HaproxyProcess:
    """haproxy -db -f root/haproxy.cfg in the foreground, its admin socket at root/admin.sock."""

    def __init__(self, root: str, backend: str, servers: dict[str, str]):
        self.root, self.port, self.backend = root, free_port(), backend
        self.config = os.path.join(root, "haproxy.cfg")
        self.socket = os.path.join(root, "admin.sock")
        with open(self.config, "w") as f:
            f.write(haproxy_config(root, self.port, backend, servers))
        self.proc: subprocess.Popen | None = None

    def start(self) -> "HaproxyProcess":
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.config], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited {self.proc.returncode}: {self.proc.stdout.read().decode()}")
            return os.path.exists(self.socket) and port_open("127.0.0.1", self.port)

        wait_until(up, timeout=15, message=f"haproxy did not open {self.socket}")
        return self

    def command(self, text: str) -> str:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(self.socket)
            sock.sendall(text.encode() + b"\n")
            out = []
            while chunk := sock.recv(65536):
                out.append(chunk)
        return b"".join(out).decode()

    def stop(self) -> None:
        stop_process(self.proc)


def _need(binary: str) -> None:
    require(os.path.exists(binary), f"{binary} is missing: apt-get install {os.path.basename(binary)} "
                                    "(scripts/apt-packages.txt)")


@pytest.fixture
def backends():
    """``backends(n)`` → n Backend servers, stopped after the test."""
    made = []

    def make(n: int) -> list[Backend]:
        new = [Backend(f"b{len(made) + i}") for i in range(n)]
        made.extend(new)
        return new

    yield make
    for b in made:
        b.stop()


@pytest.fixture
def nginx_gateway(tmp_path):
    """``nginx_gateway(upstream, upstream_text)`` → a started NginxProcess."""
    _need(NGINX)
    started = []

    def start(upstream: str, upstream_text: str) -> NginxProcess:
        root = tmp_path / f"nginx{len(started)}"
        root.mkdir()
        started.append(NginxProcess(str(root), upstream, upstream_text))
        return started[-1].start()

    yield start
    for p in started:
        p.stop()


@pytest.fixture
def haproxy_gateway(tmp_path):
    """``haproxy_gateway(backend, {name: host:port})`` → a started HaproxyProcess."""
    _need(HAPROXY)
    started = []

    def start(backend: str, servers: dict[str, str]) -> HaproxyProcess:
        root = tmp_path / f"haproxy{len(started)}"
        root.mkdir()
        started.append(HaproxyProcess(str(root), backend, servers))
        return started[-1].start()

    yield start
    for p in started:
        p.stop()
