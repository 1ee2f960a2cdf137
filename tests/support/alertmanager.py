"""A real Prometheus Alertmanager (Debian's prometheus-alertmanager) on a free port, routing every
alert to one webhook receiver, with short group timings so a test sees notifications in seconds."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest
from .processes import stop_process

BINARY = "/usr/bin/prometheus-alertmanager"
CONFIG = """route:
  receiver: test
  group_by: ['alertname', 'service']
  group_wait: 200ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: {url}
        send_resolved: true
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Alertmanager:
    def __init__(self, workdir: str, receiver_url: str):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with open(os.path.join(workdir, "alertmanager.yml"), "w") as f:
            f.write(CONFIG.format(url=receiver_url))
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "Alertmanager":
        binary = shutil.which("prometheus-alertmanager") or BINARY
        if not os.path.exists(binary):
            pytest.fail("prometheus-alertmanager is not installed: apt-get install prometheus-alertmanager "
                        "(scripts/apt-packages.txt lists it; ./scripts/test installs it)")
        self.log = open(os.path.join(self.workdir, "alertmanager.log"), "wb")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={self.workdir}/alertmanager.yml", f"--storage.path={self.workdir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"alertmanager exited with {self.proc.returncode}; see {self.workdir}/alertmanager.log")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"alertmanager not ready on {self.url} within {timeout}s")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None
            self.log.close()
