"""``stackeye writer``'s wait for its storage at start (app.cluster.open_storage_waiting)."""
from __future__ import annotations

import logging
import threading

import pytest
from stackeye.app.cluster import open_storage_waiting
from stackeye.storage.base import StorageError
from stackeye.storage.migrations import SchemaOptions
from stackeye.storage.url import parse_storage_url
from support.services import free_port


def _unreachable():
    return parse_storage_url(f"clickhouse://127.0.0.1:{free_port()}/otel")  # nothing listens there


def test_an_unreachable_server_is_retried_until_the_timeout_then_its_error_is_raised(caplog):
    caplog.set_level(logging.WARNING, logger="stackeye.app")
    with pytest.raises(StorageError, match="unreachable") as err:
        open_storage_waiting(_unreachable(), SchemaOptions(), threading.Event(), timeout_s=1.0)
    assert err.value.retryable
    assert any("retrying in" in r.getMessage() for r in caplog.records), "it waited and tried again"


def test_stop_ends_the_wait_with_none(caplog):
    caplog.set_level(logging.WARNING, logger="stackeye.app")
    stop = threading.Event()
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("storage", open_storage_waiting(
        _unreachable(), SchemaOptions(), stop)), daemon=True)  # no timeout: it would wait forever
    thread.start()
    thread.join(2.0)  # let it fail and begin waiting
    stop.set()
    thread.join(30)
    assert not thread.is_alive() and result == {"storage": None}


def test_a_permanent_error_is_raised_at_once():
    url = parse_storage_url(f"clickhouse://127.0.0.1:{free_port()}/bad-name")
    with pytest.raises(StorageError, match="bad database name") as err:
        open_storage_waiting(url, SchemaOptions(), threading.Event())
    assert not err.value.retryable
