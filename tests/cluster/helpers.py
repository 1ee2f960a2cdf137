"""Processes and helpers of the cluster tests (imported as ``cluster.helpers``)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

from support.clickhouse_server import ClickHouseServer  # noqa: F401  (re-exported for tests)
from support.kafka import TansuBroker
from support.logs import log_tail
from support.wait import wait_until

HERE = os.path.dirname(os.path.abspath(__file__))

# What the Debian 18.16 server can hold of otel_traces: the tests' native writer inserts these.
# ReplacingMergeTree + FINAL stands in for insert_deduplication_token, which 18.16 lacks.
REDUCED_TRACES = (
    "CREATE TABLE otel_traces (TraceId String, SpanId String, ServiceName String, SpanName String, "
    "Duration UInt64, Tenant String DEFAULT 'default') ENGINE = ReplacingMergeTree ORDER BY SpanId"
)


class Proc:
    """A stackeye process with a status port; ``health()`` reads its /api/v1/health."""

    def __init__(self, args: list[str], log_path: str, http_port: int | None = None):
        self.args = args
        self.log_path = log_path
        self.http_port = http_port
        self.proc: subprocess.Popen | None = None

    def start(self, wait_healthy: bool = True, timeout: float = 60.0) -> "Proc":
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=env)
        if wait_healthy and self.http_port:
            wait_until(self._answers_health, timeout=timeout, ignore=(OSError,),
                       message=lambda: f"{self.args[:5]} not healthy\n{self.log_tail()}")
        return self

    def _alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.args[:5]} exited with {self.proc.returncode}:\n{self.log_tail()}")

    def _answers_health(self) -> bool:
        self._alive()
        self.health()
        return True

    def health(self) -> dict:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/api/v1/health", timeout=2) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as err:  # 503 when degraded: still a health document
            return json.loads(err.read())

    def wait_written(self, expected: int, timeout: float = 90.0) -> int:
        """Poll ``written_items`` until it reaches ``expected``; return it (or the last value seen)."""
        seen = [-1]

        def reached() -> bool:
            seen[0] = int(self.health().get("written_items", 0))
            if seen[0] < expected:
                self._alive()
            return seen[0] >= expected

        wait_until(reached, timeout=timeout, interval=0.2, required=False)
        return seen[0]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    def log_tail(self, n: int = 4000) -> str:
        return log_tail(self.log_path, n=n)


def stackeye(*args: str) -> list[str]:
    return [sys.executable, "-m", "stackeye.cli.main", "--log-level", "info", *args]


def collector_args(kafka: TansuBroker, grpc_port: int, *extra: str) -> list[str]:
    return stackeye("collector", "--kafka", kafka.bootstrap, "--otlp-grpc", f"127.0.0.1:{grpc_port}",
                    "--partitions", "4", *extra)


def writer_args(kafka: TansuBroker, clickhouse_url: str, *extra: str) -> list[str]:
    return stackeye("writer", "--kafka", kafka.bootstrap, "--clickhouse", clickhouse_url, "--partitions", "4",
                    "--batch-max-wait", "0.3", *extra)


def native_writer_args(kafka: TansuBroker, clickhouse_url: str, group: str = "stackeye-writer") -> list[str]:
    return [sys.executable, os.path.join(HERE, "native_writer.py"), "--kafka", kafka.bootstrap,
            "--clickhouse", clickhouse_url, "--group", group]


def sql_json(url: str, query: str) -> list[dict]:
    """Rows of ``stackeye sql --clickhouse URL --format json`` (another process: chDB has one owner)."""
    out = subprocess.run(stackeye("sql", "--clickhouse", url, "--format", "json", query),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    doc = json.loads(out.stdout)
    if isinstance(doc, dict) and "rows" in doc:
        return [dict(zip(doc["columns"], r)) for r in doc["rows"]]
    return doc
