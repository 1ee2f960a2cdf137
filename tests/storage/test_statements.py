"""One statement per read-only query: quotes, identifiers and comments do not count, a second statement does."""
from __future__ import annotations

import pytest
from stackeye.storage import statements
from stackeye.storage.base import QueryError


@pytest.mark.parametrize("sql", [
    "SELECT 1", "SELECT 1;", "SELECT 1;  -- done\n", "SELECT ';' AS a", 'SELECT 1 AS "a;b"', "SELECT 1 AS `x;`",
    "SELECT 'it''s; fine'", "SELECT 'a\\'; b'", "SELECT /* ; */ 1", "SELECT 1 # ; hash comment", "SELECT 1; /* c */",
])
def test_one_statement(sql):
    statements.require_single(sql)


@pytest.mark.parametrize("sql", ["SELECT 1; SELECT 2", "SELECT 1;SELECT 2;", "SELECT ';'; DROP TABLE t",
                                 "SELECT 1; -- c\nSELECT 2"])
def test_two_statements(sql):
    with pytest.raises(ValueError, match="one statement per query"):
        statements.require_single(sql)


def test_the_storage_refuses_a_second_statement_before_running_it(chdb_storage):
    storage = chdb_storage()
    with pytest.raises(QueryError, match="one statement per query: a second one starts at character 10") as err:
        storage.query("SELECT 1; SELECT count() FROM otel_traces")
    assert err.value.code == 62
    assert storage.query("SELECT 1;").rows == [[1]]
