"""The judgement of read-only SQL on ClickHouse's parse: what runs, what is refused and why."""
from __future__ import annotations

import pytest
from stackeye.storage.base import QueryError


@pytest.fixture(scope="module")
def storage(chdb_path):
    from stackeye.storage.chdb_storage import ChdbStorage
    from stackeye.storage.url import parse_storage_url

    st = ChdbStorage(parse_storage_url(f"chdb://{chdb_path}?database=guard"))
    st.migrate()
    yield st
    st.close()


@pytest.mark.parametrize("sql", [
    "SELECT 1", "WITH x AS (SELECT 1 AS a) SELECT a FROM x", "SELECT 1 UNION ALL SELECT 2",
    "(SELECT 1) EXCEPT (SELECT 2)", "SELECT number FROM numbers(3)", "SELECT * FROM view(SELECT 1)",
    "EXPLAIN SELECT count() FROM otel_traces", "EXPLAIN PIPELINE SELECT 1", "SHOW TABLES", "DESCRIBE otel_traces",
    "DESC otel_logs", "SELECT 'file(' AS text, '; SELECT 2' AS other -- merge(",
    "SELECT arrayMap(x -> x + 1, [1, 2])", "SELECT 1 FORMAT JSON",
])
def test_reads_run(storage, sql):
    storage.query(sql, untrusted=True)


@pytest.mark.parametrize("sql,code,words", [
    ("INSERT INTO otel_logs (Body) VALUES ('x')", 164, "not INSERT"),
    ("CREATE TABLE x (a UInt8) ENGINE = Memory", 164, "not CREATE"),
    ("SET max_threads = 1", 164, "not SET"),
    ("SELECT * FROM merge(currentDatabase(), '^otel_')", 497, "table function merge()"),
    ("SELECT * FROM \"merge\"('guard', 'otel_traces')", 497, "table function merge()"),
    ("SELECT * FROM mergeTreeIndex(currentDatabase(), otel_traces)", 497, "mergeTreeIndex()"),
    ("SELECT 1 FROM numbers(1) WHERE 1 IN (SELECT * FROM merge('guard', 'otel_traces'))", 497, "merge()"),
    ("SELECT * FROM view(SELECT * FROM merge('guard', 'otel_traces'))", 497, "merge()"),
    ("SELECT file('/etc/hostname')", 497, "file()"),
    ("SELECT arrayMap(x -> file('/etc/hostname'), [1])", 497, "file()"),
    ("SELECT dictGetString('d', 'a', toUInt64(1))", 497, "dictGetString()"),
    ("SELECT 1 INTO OUTFILE '/tmp/stackeye-guard-test.out'", 497, "INTO OUTFILE"),
    ("EXPLAIN ESTIMATE SELECT * FROM otel_traces", 497, "ESTIMATE"),
])
def test_what_reaches_outside_is_refused_before_it_runs(storage, sql, code, words):
    with pytest.raises(QueryError) as err:
        storage.query(sql, untrusted=True)
    assert err.value.code == code and words in str(err.value), str(err.value)


def test_a_refusal_keeps_the_connection_and_a_syntax_error_is_clickhouses(storage):
    for _ in range(3):
        with pytest.raises(QueryError):
            storage.query("SELECT file('x')", untrusted=True)
    with pytest.raises(QueryError) as err:
        storage.query("SELEC 1", untrusted=True)
    assert err.value.code == 62 and "Syntax error" in str(err.value)
    assert storage.query("SELECT 2").rows == [[2]]
