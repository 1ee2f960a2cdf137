"""Run a real ``stackeye up`` in a subprocess (chDB allows one data directory per process)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

from .logs import log_tail
from .services import free_port
from .wait import wait_until


class StackeyeServer:
    """A ``stackeye up`` process on free loopback ports with its own data directory."""

    def __init__(self, data_dir: str, extra_args: list[str] | None = None, env: dict | None = None,
                 python: str = sys.executable, launcher: list[str] | None = None):
        """``python`` runs ``-m stackeye.cli.main`` (another venv runs another version of stackeye);
        ``launcher`` replaces ``-m stackeye.cli.main`` (a script that takes the same arguments)."""
        self.data_dir = data_dir
        self.python = python
        self.launcher = launcher or ["-m", "stackeye.cli.main"]
        self.grpc_port, self.otlp_http_port, self.http_port = free_port(), free_port(), free_port()
        self.extra_args = list(extra_args or [])
        self.env = dict(os.environ, **(env or {}))
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(os.path.dirname(data_dir.rstrip("/")) or ".", os.path.basename(data_dir) + ".log")
        self.api_key: str | None = None  # sent as the bearer key of request()/sql() when set

    @property
    def otlp_grpc(self) -> str:
        """host:port of the OTLP/gRPC receiver (an OTel exporter's endpoint, with insecure=True)."""
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def otlp_http_url(self) -> str:
        return f"http://127.0.0.1:{self.otlp_http_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 60.0) -> "StackeyeServer":
        cmd = [
            self.python, *self.launcher, "up",
            "--data-dir", self.data_dir,
            "--otlp-grpc", self.otlp_grpc,
            "--otlp-http", f"127.0.0.1:{self.otlp_http_port}",
            "--http", f"127.0.0.1:{self.http_port}",
            *self.extra_args,
        ]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=self.env)

        def healthy() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"stackeye up exited with {self.proc.returncode}:\n{self.log_tail()}")
            return self.health().get("status") == "ok"

        wait_until(healthy, timeout=timeout, ignore=(OSError,),
                   message=lambda: f"stackeye up did not become healthy\n{self.log_tail()}")
        return self

    def log_tail(self, n: int = 4000) -> str:
        return log_tail(self.log_path, n=n)

    # -- HTTP API --------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 30.0,
                key: str | None = None):
        """``key``: the API key to send (default: :attr:`api_key`; "" sends none)."""
        data = json.dumps(body).encode() if body is not None else None
        key = self.api_key if key is None else key
        req = urllib.request.Request(self.http_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {key}"} if key else {})})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def health(self) -> dict:
        status, body = self.request("GET", "/api/v1/health", timeout=2)
        return json.loads(body)

    def sql(self, query: str) -> list[dict]:
        """Rows of a read-only query as dicts (column name -> value)."""
        status, body = self.request("POST", "/api/v1/sql", {"query": query})
        doc = json.loads(body)
        if status != 200:
            raise AssertionError(f"SQL failed ({status}): {doc}")
        return [dict(zip(doc["columns"], row)) for row in doc["rows"]]

    def wait_for_count(self, query: str, expected: int, timeout: float = 30.0) -> int:
        """Poll ``query`` (a single count) until it reaches ``expected``; return that value (or the
        last one seen after ``timeout``: callers assert on it, with the count in the message)."""
        seen = [-1]

        def reached() -> bool:
            rows = self.sql(query)
            seen[0] = int(next(iter(rows[0].values()))) if rows else 0
            return seen[0] >= expected

        wait_until(reached, timeout=timeout, interval=0.2, required=False)
        return seen[0]

    # -- lifecycle -------------------------------------------------------------------------------
    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        finally:
            self._log.close()

    def kill(self) -> None:
        """kill -9: no chance to flush anything."""
        self.stop(signal.SIGKILL)
