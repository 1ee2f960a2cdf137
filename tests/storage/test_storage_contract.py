"""The Storage contract (storage/base.py), the same behaviours on chDB and on a ClickHouse server.

The server is Debian's clickhouse-server 18.16 (tests/support/clickhouse_server.py), admitted with
``min_version=(18, 16)``: too old for stackeye's schema, so on it the inserts go to the reduced
``otel_traces`` of the cluster tests, and what it cannot show is skipped with the reason named
where the test is parametrized (``backends(...)``). Errors are compared by ClickHouse's code and
words of its own text, which both engines print.
"""
from __future__ import annotations

import itertools

import pytest
from stackeye.core.signals import Signal
from stackeye.storage.base import QueryError, QueryLimits, StorageError
from support.otlp_builders import spans_request

BACKENDS = ("chdb", "native")
OLD_SERVER_HAS_NO_SCHEMA = ("ClickHouse 18.16 cannot hold stackeye's schema: it needs Map columns (21.8), Bool "
                            "(21.12) and insert_deduplication_token (22.2), MIN_SERVER_VERSION")
OLD_SERVER_HAS_NO_DEDUP_TOKEN = ("ClickHouse 18.16 has no insert_deduplication_token (22.2); tests/cluster/test_native.py "
                                 "shows replays collapsing with ReplacingMergeTree + FINAL instead")
_db_seq = itertools.count()


def backends(**cannot_show: str):
    """Run on both backends, less those named here with the reason they cannot show the behaviour."""
    return pytest.mark.parametrize("backend", [
        pytest.param(b, marks=pytest.mark.skip(reason=f"{b}: {cannot_show[b]}")) if b in cannot_show else b
        for b in BACKENDS
    ])


@pytest.fixture(scope="module")
def ch_server(tmp_path_factory):
    from support.clickhouse_server import ClickHouseServer

    server = ClickHouseServer(str(tmp_path_factory.mktemp("clickhouse"))).start()
    yield server
    server.stop()


@pytest.fixture
def make(backend, request, chdb_storage):
    """``make(limits=None)`` → an open storage of ``backend`` with an otel_traces table: the full
    schema on chDB, the cluster tests' reduced table (its own database) on the old server."""
    opened = []

    def open_one(limits: QueryLimits | None = None):
        if backend == "chdb":
            return chdb_storage(**({"limits": limits} if limits else {}))
        from clickhouse_driver import Client
        from cluster.helpers import REDUCED_TRACES
        from stackeye.storage.native_storage import NativeStorage
        from stackeye.storage.url import parse_storage_url

        server = request.getfixturevalue("ch_server")
        db = f"contract_{next(_db_seq)}"
        client = Client("127.0.0.1", port=server.tcp_port, user=server.user, password=server.password)
        client.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
        client.execute(f"{REDUCED_TRACES.replace('CREATE TABLE otel_traces', f'CREATE TABLE {db}.otel_traces')}")
        client.disconnect()
        storage = NativeStorage(parse_storage_url(server.url(db)), limits=limits, min_version=(18, 16),
                                columns={"otel_traces": ("TraceId", "SpanId", "ServiceName", "SpanName", "Duration",
                                                         "Tenant")})
        opened.append(storage)
        return storage

    yield open_one
    for storage in opened:
        storage.close()


@backends()
def test_open_query_and_close(make):
    storage = make()
    assert storage.query("SELECT 1 AS one").rows == [[1]]
    storage.close()
    storage.close()  # twice is fine


@backends()
def test_a_result_has_columns_types_and_plain_values(make):
    res = make().query(
        "SELECT 1 AS n, 'a' AS s, toFloat64(1.5) AS f, [1, 2] AS arr, toDate('2024-01-02') AS d, "
        "toDateTime('2024-01-02 03:04:05') AS t, CAST(NULL AS Nullable(String)) AS z, "
        "toUInt64(18446744073709551615) AS big")
    assert res.columns == ["n", "s", "f", "arr", "d", "t", "z", "big"]
    assert res.types == ["UInt8", "String", "Float64", "Array(UInt8)", "Date", "DateTime", "Nullable(String)", "UInt64"]
    assert res.rows == [[1, "a", 1.5, [1, 2], "2024-01-02", "2024-01-02 03:04:05", None, 18446744073709551615]]
    assert res.elapsed_ms >= 0


@backends()
def test_bad_sql_is_a_query_error_with_clickhouse_code_and_text(make):
    storage = make()
    with pytest.raises(QueryError, match="Syntax error") as err:
        storage.query("SELEC 1")
    assert err.value.code == 62 and not err.value.retryable
    with pytest.raises(QueryError, match="nope_table") as err:
        storage.query("SELECT * FROM nope_table")
    assert err.value.code == 60 and not err.value.retryable


@backends()
def test_queries_are_read_only_unless_told_otherwise(make):
    storage = make()
    with pytest.raises(QueryError, match="readonly") as err:
        storage.query("CREATE TABLE contract_rw (a UInt8) ENGINE = Memory")
    assert err.value.code == 164 and not err.value.retryable
    storage.query("CREATE TABLE contract_rw (a UInt8) ENGINE = Memory", readonly=False)
    assert storage.query("SELECT count() AS n FROM contract_rw").rows == [[0]]


@backends()
def test_the_result_row_limit_refuses_a_bigger_result(make):
    storage = make(QueryLimits(max_result_rows=10))
    assert len(storage.query("SELECT number FROM system.numbers LIMIT 10").rows) == 10
    with pytest.raises(QueryError, match="Limit for result exceeded") as err:
        storage.query("SELECT number FROM system.numbers LIMIT 100")
    assert err.value.code == 396 and not err.value.retryable


@backends()
def test_the_time_limit_stops_a_query_that_runs_too_long(make):
    storage = make(QueryLimits(max_execution_time=1))
    # a StorageError with ClickHouse's code on both; which subclass, and whether it is retryable,
    # is the query-limits work's to say (QueryLimitExceeded), not this contract's
    with pytest.raises(StorageError, match="Timeout exceeded") as err:
        storage.query("SELECT count() FROM system.numbers")  # endless without the limit
    assert err.value.code == 159


@backends()
def test_inserted_requests_are_queryable(make):
    storage = make()
    storage.insert_otlp(Signal.TRACES, [spans_request("contract", 20).SerializeToString(),
                                        spans_request("contract", 5).SerializeToString()], "contract-0-1")
    assert storage.query("SELECT ServiceName, count() AS n FROM otel_traces GROUP BY ServiceName").rows == [["contract", 25]]
    storage.insert_otlp(Signal.TRACES, [], "contract-empty")  # nothing to insert: nothing happens


@backends()
def test_every_row_of_an_insert_has_its_tenant(make):
    storage = make()
    storage.insert_otlp(Signal.TRACES, [spans_request("acme-svc", 7).SerializeToString()], "contract-t-1", "acme")
    storage.insert_otlp(Signal.TRACES, [spans_request("globex-svc", 3).SerializeToString()], "contract-t-2",
                        "o'brien\\co")  # quoted and escaped as a literal, not refused
    storage.insert_otlp(Signal.TRACES, [spans_request("plain-svc", 2).SerializeToString()], "contract-t-3")
    rows = storage.query("SELECT Tenant, ServiceName, count() FROM otel_traces GROUP BY Tenant, ServiceName "
                         "ORDER BY Tenant").rows
    assert rows == [["acme", "acme-svc", 7], ["default", "plain-svc", 2], ["o'brien\\co", "globex-svc", 3]]


@backends()
def test_an_undecodable_request_is_a_permanent_error(make):
    with pytest.raises(StorageError) as err:
        make().insert_otlp(Signal.TRACES, [b"\xff\xff garbage"], "contract-bad")
    assert not err.value.retryable  # the writer sets it aside instead of retrying


@backends(native=OLD_SERVER_HAS_NO_DEDUP_TOKEN)
def test_the_same_batch_token_inserts_once(make):
    storage = make()
    payload = spans_request("dedup", 10).SerializeToString()
    for _ in range(2):  # a replay after a crash between insert and commit
        storage.insert_otlp(Signal.TRACES, [payload], "contract-dedup-1")
    assert storage.query("SELECT count() FROM otel_traces").rows == [[10]]
    storage.insert_otlp(Signal.TRACES, [payload], "contract-dedup-2")  # another batch, the same bytes
    assert storage.query("SELECT count() FROM otel_traces").rows == [[20]]


@backends(native=OLD_SERVER_HAS_NO_SCHEMA)
def test_migrations_apply_once(make):
    storage = make()  # migrated by the fixture
    assert storage.migrate() == []


@backends(chdb="embedded, in-process: there is no server to be unreachable")
def test_an_unreachable_server_is_a_retryable_error(backend):
    from stackeye.storage.native_storage import NativeStorage
    from stackeye.storage.url import parse_storage_url
    from support.services import free_port

    with pytest.raises(StorageError, match="unreachable") as err:
        NativeStorage(parse_storage_url(f"clickhouse://127.0.0.1:{free_port()}/otel"))
    assert err.value.retryable


@backends(chdb="embedded: no credentials and no server version to refuse")
def test_a_wrong_password_and_a_too_old_server_are_permanent_errors(backend, ch_server):
    from stackeye.storage.native_storage import NativeStorage, ServerTooOld
    from stackeye.storage.url import parse_storage_url

    with pytest.raises(StorageError, match="Wrong password") as err:
        NativeStorage(parse_storage_url(ch_server.url().replace(ch_server.password, "nope")), min_version=(18, 16))
    assert not err.value.retryable
    with pytest.raises(ServerTooOld, match="is version 18.16") as err:
        NativeStorage(parse_storage_url(ch_server.url()))
    assert not err.value.retryable
