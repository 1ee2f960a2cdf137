"""``--cluster NAME``: ON CLUSTER, Replicated*MergeTree local tables, Distributed tables over them.

chDB has no cluster to run them on, so every statement is parsed by ClickHouse's own parser
(``formatQuery``) and its shape checked; the single-node rendering is unchanged.
"""
from __future__ import annotations

import re

from stackeye.storage.migrations import (
    LOCAL_SUFFIX,
    SHARDING_KEYS,
    SchemaOptions,
    load_migrations,
)


def _statements(options: SchemaOptions) -> list[str]:
    return [s for m in load_migrations() for s in m.statements(options)]


def test_cluster_statements_parse_as_clickhouse_sql(chdb_storage):
    st = chdb_storage(migrate=False)
    for stmt in _statements(SchemaOptions(cluster="c3")):
        escaped = stmt.replace("\\", "\\\\").replace("'", "\\'")
        st.query(f"SELECT formatQuery('{escaped}')")  # raises QueryError on a syntax error


def test_tables_are_local_replicated_with_distributed_tables_over_them():
    stmts = _statements(SchemaOptions(cluster="c3"))
    creates = [s for s in stmts if s.startswith("CREATE")]
    assert all(" ON CLUSTER c3" in s for s in creates)
    local = {m.group(1) for s in creates if (m := re.match(r"CREATE TABLE IF NOT EXISTS (\w+)_local ", s))}
    distributed = {
        m.group(1): m.group(2)
        for s in creates
        if (m := re.match(r"CREATE TABLE IF NOT EXISTS (\w+) ON CLUSTER c3 AS \w+ ENGINE = Distributed\(c3, currentDatabase\(\), \w+, (.+)\)$", s))
    }
    assert {"otel_traces", "otel_logs", "otel_metrics_sum"} <= local
    assert set(distributed) == local
    for name, key in SHARDING_KEYS.items():
        assert distributed[name] == key
    for s in creates:
        if "_local ON CLUSTER" in s:
            assert re.search(r"ENGINE = Replicated\w*MergeTree", s), s[:120]
            assert "AggregatingReplicated" not in s and "ReplacingReplicated" not in s
    views = [s for s in creates if "MATERIALIZED VIEW" in s]
    assert views
    for v in views:
        target = re.search(r"\bTO (\w+)", v).group(1)
        assert target.endswith(LOCAL_SUFFIX), v[:200]
        for source in re.findall(r"\bFROM ((?:otel|stackeye)_\w+)", v):
            assert source.endswith(LOCAL_SUFFIX), v[:200]


def test_without_distributed_only_replicated():
    stmts = _statements(SchemaOptions(cluster="c3", distributed=False))
    assert not any("Distributed(" in s for s in stmts)
    assert any("CREATE TABLE IF NOT EXISTS otel_traces ON CLUSTER c3 (" in s for s in stmts)


def test_single_node_rendering_is_unchanged():
    stmts = _statements(SchemaOptions())
    assert not any("ON CLUSTER" in s or "Distributed(" in s or "_local" in s for s in stmts)
    assert any("non_replicated_deduplication_window = 1000" in s for s in stmts)
