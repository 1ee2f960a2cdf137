"""Fixtures for every test package.

- ``stackeye_up``: one real ``stackeye up`` (subprocess, chDB, free ports) shared by the session.
  Tests that need a store of their own start a :class:`support.server.StackeyeServer`.
"""
from __future__ import annotations

import pytest

from support.server import StackeyeServer


@pytest.fixture(scope="session")
def stackeye_up(tmp_path_factory):
    server = StackeyeServer(str(tmp_path_factory.mktemp("stackeye-up") / "data")).start()
    yield server
    server.stop()
