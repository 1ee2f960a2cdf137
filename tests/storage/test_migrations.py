from __future__ import annotations

import os

import pytest
from stackeye.core.signals import Signal
from stackeye.storage.migrations import (
    MIGRATIONS_TABLE,
    Migration,
    SchemaOptions,
    apply_migrations,
    distribute,
    load_migrations,
    split_statements,
)
from support.otlp_builders import spans_request

EXPORTER_TABLES = {
    "otel_traces", "otel_traces_trace_id_ts", "otel_traces_trace_id_ts_mv", "otel_logs", "otel_metrics_gauge",
    "otel_metrics_sum", "otel_metrics_histogram", "otel_metrics_exponential_histogram", "otel_metrics_summary",
}


def test_migrations_are_numbered_and_render(chdb_storage):
    migrations = load_migrations()
    assert [m.version for m in migrations] == sorted({m.version for m in migrations})
    for m in migrations:
        for stmt in m.statements(SchemaOptions()):
            assert "$" not in stmt, f"{m.name}: unrendered placeholder in {stmt[:80]}"


def test_migrate_is_idempotent_and_recorded(chdb_storage):
    st = chdb_storage(migrate=False)
    first = st.migrate()
    assert first and first[0] == "001_otel_traces"
    assert st.migrate() == []
    recorded = st.query("SELECT version, name FROM stackeye_schema_migrations ORDER BY version").rows
    assert [f"{v:03d}_{n}" for v, n in recorded] == first
    tables = {r[0] for r in st.query("SHOW TABLES").rows}
    assert EXPORTER_TABLES <= tables


def test_retention_is_rendered_into_the_ttl(chdb_storage):
    st = chdb_storage(schema=SchemaOptions(ttl_days=30))
    ddl = st.query("SHOW CREATE TABLE otel_traces").rows[0][0]
    assert "toIntervalDay(30)" in ddl
    assert "non_replicated_deduplication_window = 1000" in ddl


def test_cluster_rendering():
    stmts = [s for m in load_migrations() for s in m.statements(SchemaOptions(cluster="c3"))]
    assert all("ON CLUSTER c3" in s for s in stmts if s.startswith("CREATE"))
    assert any("ReplicatedMergeTree" in s for s in stmts)


def test_bad_retention():
    with pytest.raises(ValueError, match="at least 1 day"):
        SchemaOptions(ttl_days=0)


def test_split_statements_ignores_comments():
    assert split_statements("-- a; comment\nSELECT 1;\nSELECT 2;\n") == ["SELECT 1", "SELECT 2"]


def test_alter_renders_for_the_local_and_the_distributed_table():
    stmts = distribute([
        "ALTER TABLE stackeye_red_1m ON CLUSTER c3 ADD COLUMN IF NOT EXISTS Tenant LowCardinality(String), "
        "MODIFY ORDER BY (Bucket, ServiceName, Tenant)",
        "ALTER TABLE otel_traces ON CLUSTER c3 ADD COLUMN IF NOT EXISTS Tenant LowCardinality(String) "
        "DEFAULT 'a,b' CODEC(ZSTD(1)), ADD INDEX IF NOT EXISTS idx_t Tenant TYPE set(0) GRANULARITY 4",
        "ALTER TABLE stackeye_red_1h ON CLUSTER c3 MODIFY ORDER BY (Bucket, Tenant)",
    ], "c3")
    assert stmts == [
        "ALTER TABLE stackeye_red_1m_local ON CLUSTER c3 ADD COLUMN IF NOT EXISTS Tenant LowCardinality(String), "
        "MODIFY ORDER BY (Bucket, ServiceName, Tenant)",
        "ALTER TABLE stackeye_red_1m ON CLUSTER c3 ADD COLUMN IF NOT EXISTS Tenant LowCardinality(String)",
        "ALTER TABLE otel_traces_local ON CLUSTER c3 ADD COLUMN IF NOT EXISTS Tenant LowCardinality(String) "
        "DEFAULT 'a,b' CODEC(ZSTD(1)), ADD INDEX IF NOT EXISTS idx_t Tenant TYPE set(0) GRANULARITY 4",
        "ALTER TABLE otel_traces ON CLUSTER c3 ADD COLUMN IF NOT EXISTS Tenant LowCardinality(String) "
        "DEFAULT 'a,b' CODEC(ZSTD(1))",
        "ALTER TABLE stackeye_red_1h_local ON CLUSTER c3 MODIFY ORDER BY (Bucket, Tenant)",  # nothing for Distributed
    ]


def test_every_alter_of_the_schema_renders_on_cluster_for_local_tables():
    stmts = [s for m in load_migrations() for s in m.statements(SchemaOptions(cluster="c3"))]
    alters = [s for s in stmts if s.startswith("ALTER")]
    assert alters and all(" ON CLUSTER c3 " in s for s in alters)
    assert "ALTER TABLE otel_traces_local ON CLUSTER c3 ADD COLUMN IF NOT EXISTS Tenant" in "\n".join(alters)
    assert not [s for s in alters if "ORDER BY" in s and "_local " not in s]  # Distributed tables have no key
    single = [s for m in load_migrations() for s in m.statements(SchemaOptions())]
    assert not [s for s in single if "_local" in s or "ON CLUSTER" in s]


BEFORE_TENANT = os.path.join(os.path.dirname(__file__), "schema_before_tenant")  # 001-032 as released before 040


def _old_migrations() -> list[Migration]:
    out = []
    for name in sorted(os.listdir(BEFORE_TENANT)):
        with open(os.path.join(BEFORE_TENANT, name)) as f:
            out.append(Migration(int(name[:3]), name[4:-4], f.read()))
    return out


def _applied(st):
    return lambda: [r[0] for r in st.query(f"SELECT version FROM {MIGRATIONS_TABLE}").rows]


def _insert_old_rows(st, service: str, n: int, decisions: bool = True) -> None:
    """Spans, logs, a gauge and a decision as an install before tenants wrote them (no Tenant column)."""
    st.execute("INSERT INTO otel_traces (Timestamp, TraceId, SpanId, SpanName, SpanKind, ServiceName, Duration, "
               f"StatusCode, ResourceAttributes) SELECT now64(9) - number, hex(number), hex(number), 'GET /', "
               f"'Server', '{service}', 1000, 'Ok', map('host.name', 'h1') FROM numbers({n})")
    st.execute(f"INSERT INTO otel_logs (Timestamp, ServiceName, Body) SELECT now64(9), '{service}', 'x' FROM numbers({n})")
    st.execute("INSERT INTO otel_metrics_gauge (TimeUnix, ServiceName, MetricName, Value, ResourceAttributes) "
               "VALUES (now64(9), 'h', 'system.cpu.utilization', 0.5, map('host.name', 'h1'))")
    if decisions:
        st.execute("INSERT INTO stackeye_decisions (Kind, Key, Subject, Time) VALUES ('autoscale', 'k', 's', now64(3))")


TENANT_TABLES = ("otel_traces", "otel_traces_trace_id_ts", "otel_logs", "otel_metrics_gauge", "stackeye_decisions",
                 "stackeye_red_1m", "stackeye_red_1h", "stackeye_host_metrics_1m")


def _by_tenant(st, table: str) -> dict[str, int]:
    return dict(st.query(f"SELECT Tenant, count() FROM {table} FINAL GROUP BY Tenant").rows) if "_1" in table \
        else dict(st.query(f"SELECT Tenant, count() FROM {table} GROUP BY Tenant").rows)


def test_an_install_from_before_tenants_keeps_its_rows_as_default_and_takes_tenants(chdb_storage):
    from stackeye.query.views import rollups

    st = chdb_storage(migrate=False)
    apply_migrations(st.execute, _applied(st), SchemaOptions(), migrations=_old_migrations())
    _insert_old_rows(st, "old-svc", 50)
    calls = "SELECT ServiceName, countMerge(Calls) FROM stackeye_red_1m GROUP BY ServiceName"
    assert st.query(calls).rows == [["old-svc", 50]]

    assert st.migrate() == ["040_tenant", "041_stackeye_audit", "042_rollup_tenant"]
    for table in TENANT_TABLES:
        assert set(_by_tenant(st, table)) == {"default"}, table  # every row kept, read as the default tenant's
    assert _by_tenant(st, "otel_traces") == {"default": 50} and st.query(calls).rows == [["old-svc", 50]]
    fresh = chdb_storage()
    for r in rollups.ROLLUPS:  # the same sorting key as an install created with tenants
        for grain in ("1m", "1h"):
            key = f"SELECT sorting_key FROM system.tables WHERE database = currentDatabase() AND name = '{r.table(grain)}'"
            assert st.query(key).rows == fresh.query(key).rows, r.table(grain)

    st.insert_otlp(Signal.TRACES, [spans_request("new-svc", 7).SerializeToString()], "upgrade-acme", "acme")
    assert _by_tenant(st, "otel_traces") == {"default": 50, "acme": 7}
    assert _by_tenant(st, "otel_traces_trace_id_ts") == {"default": 50, "acme": 7}
    red = "SELECT Tenant, ServiceName, countMerge(Calls) FROM stackeye_red_{} GROUP BY Tenant, ServiceName ORDER BY Tenant"
    for grain in ("1m", "1h"):
        assert st.query(red.format(grain)).rows == [["acme", "new-svc", 7], ["default", "old-svc", 50]], grain

    # a second run (an interrupted migration, or 040/042 on an install created with tenants) changes nothing
    again = [m for m in load_migrations() if m.version >= 40]
    apply_migrations(st.execute, lambda: [], SchemaOptions(), migrations=again)
    apply_migrations(fresh.execute, lambda: [], SchemaOptions(), migrations=again)
    assert _by_tenant(st, "otel_traces") == {"default": 50, "acme": 7}
    assert st.query(red.format("1h")).rows == [["acme", "new-svc", 7], ["default", "old-svc", 50]]


def test_an_install_older_than_a_rollup_gets_the_tenant_before_the_rollup_reads_it(chdb_storage):
    st = chdb_storage(migrate=False)
    apply_migrations(st.execute, _applied(st), SchemaOptions(),
                     migrations=[m for m in _old_migrations() if m.version < 17])  # before the instances rollup
    _insert_old_rows(st, "old-svc", 5, decisions=False)
    assert st.migrate() == ["017_rollup_instances", "030_stackeye_decisions", "031_stackeye_events",
                            "032_stackeye_issues", "040_tenant", "041_stackeye_audit", "042_rollup_tenant"]
    assert st.query("SELECT Tenant, countMerge(Calls) FROM stackeye_red_1m GROUP BY Tenant").rows == [["default", 5]]
    st.insert_otlp(Signal.TRACES, [spans_request("new-svc", 3).SerializeToString()], "older-acme", "acme")
    assert st.query("SELECT Tenant, countMerge(Calls) FROM stackeye_instances_1m GROUP BY Tenant").rows == [["acme", 3]]
