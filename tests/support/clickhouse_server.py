"""A real ClickHouse server (Debian's ``clickhouse-server``) in a subprocess, on free loopback ports.

Debian ships ClickHouse 18.16: too old for the stackeye schema (see
:data:`stackeye.storage.native_storage.MIN_SERVER_VERSION`), so tests use it for what the
native protocol does regardless of the schema: connect, authenticate, retry while it is down,
catch up after it restarts, refuse a too-old version. Schema and SQL tests run on chDB.

Each server gets a temporary directory with its own config, data and logs; nothing under
/etc or /var is touched.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess

from .logs import log_tail
from .services import free_port, port_open, require
from .wait import wait_until

BINARY_CANDIDATES = ("/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server", "/usr/bin/clickhouse")
HOW_TO_INSTALL = "apt-get install clickhouse-server clickhouse-client (listed in scripts/apt-packages.txt)"

_CONFIG = """<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>{dir}/log/server.log</log>
        <errorlog>{dir}/log/server.err.log</errorlog>
        <size>10M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{tcp_port}</tcp_port>
    <http_port>{http_port}</http_port>
    <interserver_http_port>{interserver_port}</interserver_http_port>
    <max_connections>64</max_connections>
    <max_concurrent_queries>32</max_concurrent_queries>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <path>{dir}/data/</path>
    <tmp_path>{dir}/tmp/</tmp_path>
    <user_files_path>{dir}/user_files/</user_files_path>
    <format_schema_path>{dir}/format_schemas/</format_schema_path>
    <users_config>{dir}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mlock_executable>false</mlock_executable>
</yandex>
"""

_USERS = """<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <{user}>
            <password>{password}</password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </{user}>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
    </interval></default></quotas>
</yandex>
"""


def find_binary() -> str | None:
    for path in BINARY_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("clickhouse-server")


def require_binary() -> str:
    """The server binary, or fail (CI) / skip (elsewhere) with how to install it."""
    path = find_binary()
    if path:
        return path
    require(False, f"clickhouse-server is not installed; {HOW_TO_INSTALL}")


class ClickHouseServer:
    """One ``clickhouse-server`` process; ``stop()``/``start()`` keep its data (restart tests)."""

    user = "stackeye"
    password = "s3cret"

    def __init__(self, directory: str, binary: str | None = None):
        self.dir = directory
        self.binary = binary or require_binary()
        self.tcp_port, self.http_port, self.interserver_port = free_port(), free_port(), free_port()
        self.proc: subprocess.Popen | None = None
        for sub in ("data", "tmp", "user_files", "format_schemas", "log"):
            os.makedirs(os.path.join(directory, sub), exist_ok=True)
        self.config_path = os.path.join(directory, "config.xml")
        with open(self.config_path, "w") as f:
            f.write(_CONFIG.format(dir=directory, tcp_port=self.tcp_port, http_port=self.http_port,
                                   interserver_port=self.interserver_port))
        with open(os.path.join(directory, "users.xml"), "w") as f:
            f.write(_USERS.format(dir=directory, user=self.user, password=self.password))

    def url(self, database: str = "default", *, auth: bool = True) -> str:
        cred = f"{self.user}:{self.password}@" if auth else ""
        return f"clickhouse://{cred}127.0.0.1:{self.tcp_port}/{database}"

    def start(self, timeout: float = 60.0) -> "ClickHouseServer":
        log = open(os.path.join(self.dir, "log", "stdout.log"), "ab")
        self.proc = subprocess.Popen([self.binary, f"--config-file={self.config_path}"],
                                     stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        log.close()

        def listening() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"clickhouse-server exited with {self.proc.returncode}:\n{self.log_tail()}")
            return port_open("127.0.0.1", self.tcp_port)

        wait_until(listening, timeout=timeout,
                   message=lambda: f"clickhouse-server did not listen on {self.tcp_port}\n{self.log_tail()}")
        return self

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        # The port must be free before a restart binds it again (a restart that finds it taken
        # fails with the server's own message).
        wait_until(lambda: not port_open("127.0.0.1", self.tcp_port), timeout=timeout, required=False)

    def log_tail(self, n: int = 3000) -> str:
        return log_tail(*(os.path.join(self.dir, "log", name) for name in ("stdout.log", "server.err.log")), n=n)
