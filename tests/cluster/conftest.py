"""Cluster-mode fixtures: a real Kafka-compatible broker (tansu), Debian's ClickHouse server, and
``stackeye collector`` / ``stackeye writer`` processes on free loopback ports (see cluster.helpers).

Under CI=true a missing broker or server binary fails the test; elsewhere it is skipped.
"""
from __future__ import annotations

import pytest
from cluster.helpers import Proc
from support.clickhouse_server import ClickHouseServer
from support.kafka import TansuBroker
from support.services import free_port


@pytest.fixture
def kafka(tmp_path):
    broker = TansuBroker(str(tmp_path / "tansu.log")).start()
    yield broker
    broker.stop()


@pytest.fixture
def ch_server(tmp_path):
    server = ClickHouseServer(str(tmp_path / "clickhouse")).start()
    yield server
    server.stop()


@pytest.fixture
def procs(tmp_path):
    """``procs(kind, args, http=True)`` → a started Proc; all are stopped at teardown."""
    started: list[Proc] = []

    def make(name: str, args: list[str], http: bool = True, start: bool = True) -> Proc:
        port = free_port() if http else None
        full = args + (["--http", f"127.0.0.1:{port}"] if http else [])
        proc = Proc(full, str(tmp_path / f"{name}-{len(started)}.log"), port)
        started.append(proc)
        return proc.start() if start else proc

    yield make
    for proc in started:
        proc.stop()


