"""Real services the tests use, and the rule for when one is missing.

Under ``CI=true`` a missing service is a failure (the CI script starts them all); on a developer
machine the test is skipped with the command that starts the service.
"""
from __future__ import annotations

import os
import socket

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(available: bool, message: str) -> None:
    """Fail under CI=true, skip elsewhere, when something a test needs is missing."""
    if available:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_service(name: str, host: str, port: int, how_to_start: str) -> None:
    """Fail (CI) or skip (elsewhere) when ``name`` does not answer on host:port."""
    require(port_open(host, port), f"{name} is not reachable on {host}:{port}; start it with: {how_to_start}")
