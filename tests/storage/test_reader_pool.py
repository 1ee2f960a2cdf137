"""The reader pools: at most ``size`` queries at once, a caller waits at most ``wait_s``, a broken
connection is replaced, and one tenant's slow queries do not hold up another tenant's."""
from __future__ import annotations

import threading
import time

import pytest
from stackeye.storage.base import QueryError, QueryLimits
from stackeye.storage.reader_pool import TOO_MANY_SIMULTANEOUS_QUERIES, ReaderPool


class _Conn:
    opened = 0

    def __init__(self):
        _Conn.opened += 1
        self.closed = False

    def close(self):
        self.closed = True


def test_a_full_pool_refuses_after_the_wait_naming_the_limit():
    pool = ReaderPool(_Conn, 1, "tenant a", wait_s=0.2, raised_by="--query-max-concurrent")
    held = threading.Event()
    release = threading.Event()

    def hold():
        with pool.connection():
            held.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(5)
    started = time.monotonic()
    with pytest.raises(QueryError) as err:
        with pool.connection():
            pass
    assert err.value.code == TOO_MANY_SIMULTANEOUS_QUERIES and "tenant a already runs 1" in str(err.value)
    assert 0.15 < time.monotonic() - started < 2
    release.set()
    t.join()
    with pool.connection():  # free again
        pass


def test_a_failed_query_discards_its_connection_unless_nothing_ran():
    pool = ReaderPool(_Conn, 2, "x")
    with pool.connection() as first:
        pass
    with pytest.raises(RuntimeError):
        with pool.connection() as conn:
            assert conn is first
            raise RuntimeError("the query failed mid-stream")
    assert first.closed
    refused = QueryError("refused before it ran")
    refused.connection_intact = True
    with pytest.raises(QueryError):
        with pool.connection() as second:
            raise refused
    with pool.connection() as again:
        assert again is second and not second.closed


def test_close_waits_for_running_queries_then_refuses():
    pool = ReaderPool(_Conn, 1, "x")
    done = []

    def run():
        with pool.connection():
            time.sleep(0.3)
            done.append(True)

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.05)
    pool.close()
    assert done == [True]
    with pytest.raises(QueryError, match="closed"):
        with pool.connection():
            pass
    t.join()


def test_one_tenants_slow_queries_do_not_hold_up_another(chdb_storage):
    storage = chdb_storage(limits=QueryLimits(tenant_concurrency=1, max_execution_time=20))
    slow = "SELECT sum(sleepEachRow(0.5)) FROM numbers(6)"
    t = threading.Thread(target=lambda: storage.query(slow, tenant="team-a"))
    t.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert storage.query("SELECT 1", tenant="team-b").rows == [[1]]
    assert time.monotonic() - started < 2  # not behind team-a's 3 s query
    t.join()


def test_the_tenant_concurrency_comes_from_query_max_concurrent_and_errors_name_it():
    from stackeye.app.query_limits import query_limits
    from stackeye.app.up_config import UpConfig

    limits = query_limits(UpConfig(query_max_concurrent=3))
    assert limits.tenant_concurrency == 3
    assert dict(limits.raised_by)["tenant_concurrency"] == "query_max_concurrent / --query-max-concurrent"
