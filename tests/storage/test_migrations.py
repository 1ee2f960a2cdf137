from __future__ import annotations

import pytest
from stackeye.storage.migrations import SchemaOptions, load_migrations, split_statements

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
