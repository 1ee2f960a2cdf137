from __future__ import annotations

import threading

import pytest
from stackeye.storage.base import QueryError, QueryLimits


def test_a_query_failing_mid_stream_does_not_leak_into_the_next(chdb_storage):
    st = chdb_storage(limits=QueryLimits(max_result_rows=100, max_execution_time=5))
    with pytest.raises(QueryError, match="Limit for result exceeded"):
        st.query("SELECT number FROM numbers(100000)")
    assert st.query("SELECT 7 AS x").rows == [[7]]


def test_user_sql_cannot_write_or_lift_its_limits(chdb_storage):
    st = chdb_storage()
    for sql in ("DROP TABLE otel_traces", "CREATE TABLE x (a Int8) ENGINE = Memory", "SET readonly = 0",
                "SELECT 1 SETTINGS max_result_rows = 0"):
        with pytest.raises(QueryError):
            st.query(sql)
    assert st.query("SELECT count() FROM otel_traces").rows == [[0]]


def test_concurrent_queries_get_their_own_results(chdb_storage):
    st = chdb_storage()
    errors = []

    def worker(k):
        for i in range(30):
            got = st.query(f"SELECT {k * 1000 + i} AS v").rows
            if got != [[k * 1000 + i]]:
                errors.append((k, i, got))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
