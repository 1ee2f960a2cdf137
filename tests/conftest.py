"""Fixtures for every test package.

- ``stackeye_up``: one real ``stackeye up`` (subprocess, chDB, free ports) shared by the session.
  Tests that need a store of their own start a :class:`support.server.StackeyeServer`.
- ``chdb_storage``: a factory of in-process chDB storages, one *database* per call on ONE shared
  data path. chDB allows a single data path per process, so every in-process test must use this
  fixture rather than opening a path of its own.
"""
from __future__ import annotations

import itertools
import re

import pytest
from support.server import StackeyeServer

_db_seq = itertools.count()


@pytest.fixture(scope="session")
def stackeye_up(tmp_path_factory):
    server = StackeyeServer(str(tmp_path_factory.mktemp("stackeye-up") / "data")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory) -> str:
    """The one chDB data path of this test process."""
    return str(tmp_path_factory.mktemp("chdb") / "clickhouse")


@pytest.fixture
def chdb_storage(chdb_path, request):
    """``chdb_storage(name=None, **kwargs)`` → a migrated ChdbStorage on a fresh database."""
    from stackeye.storage.chdb_storage import ChdbStorage
    from stackeye.storage.url import parse_storage_url

    opened = []

    def make(name: str | None = None, migrate: bool = True, **kwargs):
        base = re.sub(r"\W", "_", name or request.node.name)[:40]
        db = f"t_{base}_{next(_db_seq)}"
        storage = ChdbStorage(parse_storage_url(f"chdb://{chdb_path}?database={db}"), **kwargs)
        opened.append(storage)
        if migrate:
            storage.migrate()
        return storage

    yield make
    for storage in opened:
        storage.close()
