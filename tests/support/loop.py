"""The pieces of a closed routing loop on a real gateway: instrumented upstreams, a load client,
``stackeye up`` with a routing policy, and the applier running ``--every`` round.

- :class:`Upstream`: a separate process (``python -m support.loop upstream …``) serving HTTP with
  the stdlib's WSGI server behind opentelemetry-instrumentation-wsgi, its SERVER spans sent by
  :func:`stackeye.instrumentation.init` with ``service.instance.id`` = its name, which is also its
  HAProxy server name (so the runtime API needs no server map). :meth:`Upstream.fail_half` makes
  every other request a 500 from then on (a flag file the process checks per request).
- :class:`LoadClient`: threads sending GETs through the gateway, every answer kept as
  (monotonic time, status, body): failure rates and who answered over any stretch of the run.
- :func:`start_up`: a ``stackeye up --policy`` whose ``[routing.<service>]`` table judges a short
  window, evaluated every second, so a bad server is out within seconds.
- :class:`Applier`: ``stackeye decide apply routing … --apply --every 1s`` as a subprocess, talking
  to that ``up`` over HTTP (chDB allows one process per data directory); stopped with SIGTERM.

Used by tests/e2e/test_routing_loop_*.py and bench/decisions_gateway.py.
"""
from __future__ import annotations

import argparse
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from .processes import stop_process
from .server import StackeyeServer
from .services import free_port, port_open
from .wait import wait_until

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVICE = "shop"

# Short enough that a test runs in well under a minute: a 10 s window judged every second; an
# ejection outlasts the test (60 s); 20 calls in the window are enough to judge a server.
POLICY = """[routing.{service}]
source = "instances"
window = "{window}"
min_requests = 10
failure_percentage_threshold = 20
failure_percentage_request_volume = 20
base_ejection_time = "60s"
max_ejection_time = "120s"
breaker_open_time = "60s"
"""


def _env() -> dict:
    path = os.environ.get("PYTHONPATH", "")
    return dict(os.environ, PYTHONPATH=TESTS + (os.pathsep + path if path else ""))


class Upstream:
    """One instrumented upstream process on a free port; its name is its ``service.instance.id``."""

    def __init__(self, name: str, endpoint: str, root: str, service: str = SERVICE):
        self.name, self.endpoint, self.service = name, endpoint, service
        self.port = free_port()
        self.flag = os.path.join(root, f"{name}.fail")
        self.log_path = os.path.join(root, f"{name}.log")
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "Upstream":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "support.loop", "upstream", "--name", self.name, "--service", self.service,
             "--port", str(self.port), "--endpoint", self.endpoint, "--fail-flag", self.flag],
            stdout=self._log, stderr=subprocess.STDOUT, env=_env())
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(f"upstream {self.name} exited {self.proc.returncode}: {self.log_tail()}")
            return port_open("127.0.0.1", self.port)

        wait_until(up, timeout=timeout, message=f"upstream {self.name} did not listen on {self.port}")

    def fail_half(self) -> None:
        open(self.flag, "w").close()

    def heal(self) -> None:
        if os.path.exists(self.flag):
            os.remove(self.flag)

    def log_tail(self) -> str:
        return open(self.log_path, errors="replace").read()[-2000:] if os.path.exists(self.log_path) else ""

    def stop(self) -> None:
        stop_process(self.proc, 15)
        if self.proc:
            self._log.close()


def start_upstreams(names, endpoint: str, root: str) -> list[Upstream]:
    ups = [Upstream(n, endpoint, root).start() for n in names]
    for u in ups:
        u.wait_ready()
    return ups


class LoadClient:
    """``threads`` loops of GET ``url`` with ``pause`` seconds between requests, until :meth:`stop`."""

    def __init__(self, url: str, threads: int = 2, pause: float = 0.03):
        self.url, self.pause = url, pause
        self.answers: list[tuple[float, int, str]] = []  # (monotonic time, status (0: no answer), body)
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def start(self) -> "LoadClient":
        for t in self._threads:
            t.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as resp:
                    answer = (resp.status, resp.read().decode(errors="replace"))
            except urllib.error.HTTPError as err:
                answer = (err.code, err.read().decode(errors="replace"))
            except OSError:
                answer = (0, "")
            with self._lock:
                self.answers.append((time.monotonic(), *answer))
            self._stop.wait(self.pause)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(10)

    def since(self, start: float, end: float | None = None) -> list[tuple[float, int, str]]:
        with self._lock:
            return [a for a in self.answers if a[0] >= start and (end is None or a[0] < end)]

    def failed(self, start: float, end: float | None = None) -> tuple[int, int]:
        """(failed, all) answers in [start, end): a failure is a 5xx or no answer."""
        got = self.since(start, end)
        return sum(1 for _, status, _ in got if status == 0 or status >= 500), len(got)

    def served_by(self, start: float, end: float | None = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, status, body in self.since(start, end):
            if status == 200:
                out[body] = out.get(body, 0) + 1
        return out


def start_up(folder: str, window: str = "10s", service: str = SERVICE, decide_interval: str = "1s") -> StackeyeServer:
    """``stackeye up`` with a routing policy for ``service`` judging ``window``, evaluated every
    ``decide_interval``."""
    policy = os.path.join(folder, "policies.toml")
    with open(policy, "w") as f:
        f.write(POLICY.format(service=service, window=window))
    return StackeyeServer(os.path.join(folder, "data"), ["--policy", policy, "--decide-interval", decide_interval,
                                                         "--batch-max-wait-s", "0.2"]).start()


class Applier:
    """``stackeye decide apply routing --upstream SERVICE <gateway flags> --apply --every 1s``."""

    def __init__(self, up: StackeyeServer, gateway_args: list[str], log_path: str, service: str = SERVICE,
                 every: str = "1s"):
        self.log_path = log_path
        self.argv = [sys.executable, "-m", "stackeye.cli.main", "decide", "apply", "routing", "--upstream", service,
                     *gateway_args, "--url", up.http_url, "--apply", "--every", every]
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Applier":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def log(self) -> str:
        return open(self.log_path, errors="replace").read() if os.path.exists(self.log_path) else ""

    def stop(self) -> int:
        """SIGTERM; the exit code (0: it stopped between rounds as asked)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


# -- the upstream process ------------------------------------------------------------------------
def _serve(name: str, service: str, port: int, endpoint: str, fail_flag: str) -> None:
    import wsgiref.simple_server
    from socketserver import ThreadingMixIn

    from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
    from stackeye.instrumentation import runtime

    pipe = runtime.init(service_name=service, service_instance_id=name, endpoint=endpoint, auto_instrument=False,
                        logs=False, metrics=False, callstack=False, schedule_delay_ms=100.0)
    count = itertools.count()
    lock = threading.Lock()

    def app(environ, start_response):
        with lock:
            n = next(count)
        bad = os.path.exists(fail_flag) and n % 2 == 0
        body = f"{name} failed" if bad else name
        start_response("500 Internal Server Error" if bad else "200 OK",
                       [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body.encode()]

    class Server(ThreadingMixIn, wsgiref.simple_server.WSGIServer):
        daemon_threads = True

    class Quiet(wsgiref.simple_server.WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = wsgiref.simple_server.make_server("127.0.0.1", port, OpenTelemetryMiddleware(app), Server, Quiet)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        pipe.shutdown(timeout_s=5)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m support.loop", description="a closed-loop test's pieces")
    sub = parser.add_subparsers(dest="what", required=True)
    up = sub.add_parser("upstream", help="an instrumented upstream HTTP server")
    up.add_argument("--name", required=True, help="its service.instance.id and gateway server name")
    up.add_argument("--service", default=SERVICE)
    up.add_argument("--port", type=int, required=True)
    up.add_argument("--endpoint", required=True, help="OTLP/gRPC host:port of the stackeye up")
    up.add_argument("--fail-flag", required=True, help="while this file exists, every other request is a 500")
    args = parser.parse_args(argv)
    _serve(args.name, args.service, args.port, args.endpoint, args.fail_flag)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def assert_drained_traffic(client, drained: float, healthy=("u0", "u2")) -> None:
    """From a second after ``drained`` on, the client's failures are under 2 % and only ``healthy`` serve."""
    wait_until(lambda: client.failed(drained + 1)[1] >= 100, timeout=30, message="too few requests after")
    failed, total = client.failed(drained + 1)
    assert failed / total < 0.02, (failed, total)
    assert set(client.served_by(drained + 1)) == set(healthy)


def stop_all(client, applier, ups, up) -> None:
    """The loop's processes, client first (so nothing is sent to a stopped upstream)."""
    for part in (client, applier, *ups, up):
        if part:
            part.stop()
