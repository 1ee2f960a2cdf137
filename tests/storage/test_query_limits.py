"""Every query that is not the writer's is limited: result rows, time, memory (GROUP BY and ORDER BY
spilling to disk from half of it) and threads; going over a limit is a QueryLimitExceeded that names
the limit, its value and the setting that raises it. On chDB (session settings of the read
connection) and on a ClickHouse server (per-query settings; Debian's 18.16 knows them all)."""
from __future__ import annotations

import dataclasses

import pytest
from stackeye.storage.base import (
    GiB,
    MiB,
    QueryError,
    QueryLimitExceeded,
    QueryLimits,
    default_memory_bytes,
    default_threads,
)
from stackeye.storage.native_storage import NativeStorage
from stackeye.storage.url import parse_storage_url
from support.clickhouse_server import ClickHouseServer

# 100 million UInt64 in one array: 800 MB and more in one aggregation state (cannot spill)
BIG_ARRAY = "SELECT groupArray(number) FROM numbers(100000000)"
# 20 million groups: ~1 GB of hash table without spilling, a few hundred MB when it spills
MANY_GROUPS = "SELECT count(), sum(c) FROM (SELECT number % 20000000 AS k, count() AS c FROM numbers(40000000) GROUP BY k)"
LIMITS = QueryLimits(max_result_rows=1000, max_execution_time=120, max_memory_usage=300 * MiB, max_threads=1,
                     raised_by=(("max_memory_usage", "query_max_memory_bytes / --query-max-memory-bytes"),))
SHORT = dataclasses.replace(LIMITS, max_execution_time=2)


@pytest.mark.parametrize("total,expected", [
    (64 * GiB, 8 * GiB),  # the cap
    (16 * GiB, 4 * GiB),  # a quarter
    (512 * MiB, 256 * MiB),  # the floor
])
def test_default_memory_limit_is_a_quarter_of_the_ram_within_floor_and_cap(total, expected):
    assert default_memory_bytes(total) == expected
    assert 256 * MiB <= QueryLimits().max_memory_usage <= 8 * GiB


def test_default_threads_are_half_the_cores():
    assert [default_threads(n) for n in (1, 2, 3, 8)] == [1, 1, 1, 4]
    assert QueryLimits().max_threads >= 1


@pytest.mark.parametrize("field", ["max_result_rows", "max_execution_time", "max_memory_usage", "max_threads"])
def test_zero_is_refused_since_clickhouse_reads_it_as_unlimited(field):
    with pytest.raises(ValueError, match=f"{field} must be a positive integer.*unlimited"):
        QueryLimits(**{field: 0})


def test_settings_spill_from_half_the_memory_limit():
    assert LIMITS.settings() == {
        "max_result_rows": 1000, "result_overflow_mode": "throw", "max_execution_time": 120,
        "max_memory_usage": 300 * MiB, "max_bytes_before_external_group_by": 150 * MiB,
        "max_bytes_before_external_sort": 150 * MiB, "max_threads": 1,
    }


def test_other_errors_stay_plain_query_errors():
    err = LIMITS.error("Code: 62. DB::Exception: Syntax error", 62)
    assert type(err) is QueryError and err.code == 62
    total = LIMITS.error("Code: 241. DB::Exception: Memory limit (total) exceeded", 241)
    assert type(total) is QueryError  # the server's memory, not this query's limit


# -- chDB ------------------------------------------------------------------------------------------
def test_the_read_connection_carries_every_limit(chdb_storage):
    st = chdb_storage(limits=LIMITS, migrate=False)
    names = list(LIMITS.settings())
    got = st.query("SELECT " + ", ".join(f"toString(getSetting('{n}')) AS {n}" for n in names)).rows[0]
    assert dict(zip(names, got)) == {n: str(v) for n, v in LIMITS.settings().items()}
    # the writer's connection is not limited
    assert st.query("SELECT getSetting('max_memory_usage') = 300 * 1048576", readonly=False).rows == [[0]]


@pytest.mark.parametrize("setting", ["max_memory_usage = 0", "max_threads = 64", "max_bytes_before_external_group_by = 0"])
def test_user_sql_cannot_lift_the_new_limits(chdb_storage, setting):
    st = chdb_storage(limits=LIMITS, migrate=False)
    for sql in (f"SELECT 1 SETTINGS {setting}", f"SET {setting}"):
        with pytest.raises(QueryError, match="readonly"):
            st.query(sql)


def test_over_the_memory_limit_names_it_and_the_next_query_works(chdb_storage):
    st = chdb_storage(limits=LIMITS, migrate=False)
    with pytest.raises(QueryLimitExceeded) as err:
        st.query(BIG_ARRAY)
    e = err.value
    assert (e.code, e.limit, e.value, e.retryable) == (241, "max_memory_usage", 300 * MiB, False)
    assert str(e).startswith(f"the query needs more than {300 * MiB} bytes of memory "
                             "(query_max_memory_bytes / --query-max-memory-bytes); narrow the query")
    assert "MEMORY_LIMIT_EXCEEDED" in str(e)  # ClickHouse's own text follows
    assert st.query("SELECT 7 AS x").rows == [[7]]


def test_group_by_spills_to_disk_instead_of_failing(chdb_storage):
    st = chdb_storage(limits=LIMITS, migrate=False)
    # without spilling (writer's connection, same memory limit) it does not fit ...
    with pytest.raises(QueryError, match="MEMORY_LIMIT_EXCEEDED"):
        st.query(f"{MANY_GROUPS} SETTINGS max_memory_usage = {300 * MiB}, max_threads = 1", readonly=False)
    # ... with the limits' spill threshold it does
    assert st.query(MANY_GROUPS).rows == [[20_000_000, 40_000_000]]


def test_over_the_row_and_time_limits_names_them(chdb_storage):
    st = chdb_storage(limits=SHORT, migrate=False)
    with pytest.raises(QueryLimitExceeded, match=r"^the result has more than 1000 rows \(max_result_rows\)") as err:
        st.query("SELECT number FROM numbers(100000)")
    assert (err.value.code, err.value.limit) == (396, "max_result_rows")
    with pytest.raises(QueryLimitExceeded, match=r"^the query runs longer than 2 s \(max_execution_time\)") as err:
        st.query("SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) % 7 = 1")
    assert err.value.limit == "max_execution_time" and err.value.code in (159, 160)


# -- a ClickHouse server over the native protocol ---------------------------------------------------
@pytest.fixture(scope="module")
def native(tmp_path_factory):
    server = ClickHouseServer(str(tmp_path_factory.mktemp("clickhouse"))).start()
    storage = NativeStorage(parse_storage_url(server.url()), min_version=(18, 16), limits=LIMITS)
    yield storage
    storage.close()
    server.stop()


def test_native_queries_carry_every_limit(native):
    names = list(LIMITS.settings())
    rows = native.query("SELECT name, value FROM system.settings WHERE name IN (" +
                        ", ".join(f"'{n}'" for n in names) + ")").rows
    assert dict(rows) == {n: str(v) for n, v in LIMITS.settings().items()}


def test_native_limits_are_named_and_not_retried(native):
    # 18.16 forbids table functions in read-only mode: system.numbers instead of numbers()
    cases = [
        ("SELECT groupArray(number) FROM (SELECT number FROM system.numbers LIMIT 100000000)", "max_memory_usage",
         "query_max_memory_bytes / --query-max-memory-bytes"),
        ("SELECT number FROM system.numbers LIMIT 100000", "max_result_rows", "(max_result_rows)"),
        ("SELECT count() FROM system.numbers WHERE sipHash64(number) % 7 = 1", "max_execution_time",
         "(max_execution_time)"),
    ]
    for sql, limit, named in cases:
        with pytest.raises(QueryLimitExceeded) as err:
            native.query(sql, limits=SHORT if limit == "max_execution_time" else LIMITS)
        assert err.value.limit == limit and named in str(err.value) and not err.value.retryable, sql
    assert native.query("SELECT 1").rows == [[1]]
