"""Versioned schema migrations: ``schema/NNN_name.sql``, applied in order, recorded, idempotent.

Every statement is written ``IF NOT EXISTS`` so a migration interrupted half-way is safely
re-run. The files are templates: ``$engine``, ``$on_cluster``, ``$ttl_days`` and
``$table_settings`` are filled in by :class:`SchemaOptions`, so one set of files serves chDB, a
single server and a replicated cluster.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.resources
import re
import string
from typing import Callable, Iterable

MIGRATIONS_TABLE = "stackeye_schema_migrations"
_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


@dataclasses.dataclass(frozen=True)
class SchemaOptions:
    ttl_days: int = 7  # retention of raw telemetry
    cluster: str = ""  # render ON CLUSTER and Replicated engines when set
    dedup_window: int = 1000  # inserts remembered for deduplication on plain MergeTree
    distributed: bool = True  # with cluster: tables become <name>_local, <name> a Distributed table over them

    def __post_init__(self):
        if self.ttl_days < 1:
            raise ValueError(f"retention must be at least 1 day, got {self.ttl_days}")

    def substitutions(self) -> dict[str, str]:
        if self.cluster:
            return {
                "engine": "ReplicatedMergeTree",
                "on_cluster": f"ON CLUSTER {self.cluster}",
                "ttl_days": str(self.ttl_days),
                "table_settings": "",
            }
        return {
            "engine": "MergeTree",
            "on_cluster": "",
            "ttl_days": str(self.ttl_days),
            "table_settings": f", non_replicated_deduplication_window = {self.dedup_window}",
        }


@dataclasses.dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str  # the template

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self, options: SchemaOptions) -> list[str]:
        rendered = string.Template(self.sql).substitute(options.substitutions())
        statements = split_statements(rendered)
        if options.cluster:
            statements = [_replicated_engine_names(s) for s in statements]
            if options.distributed:
                statements = distribute(statements, options.cluster)
        return statements


# --- cluster mode: Replicated*MergeTree local tables, Distributed tables under the usual names ----
_ENGINE_FAMILY = re.compile(r"\b(Aggregating|Replacing|Summing|Collapsing|VersionedCollapsing)ReplicatedMergeTree\b")
_CREATE_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+)( ON CLUSTER \w+)?", re.I)
_CREATE_VIEW = re.compile(r"^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+)( ON CLUSTER \w+)?", re.I)
_VIEW_TARGET = re.compile(r"\bTO (\w+)")
_VIEW_SOURCE = re.compile(r"\bFROM ((?:otel|stackeye)_\w+)\b")
_ALTER_TABLE = re.compile(r"^ALTER TABLE (\w+)(?: ON CLUSTER \w+)?\s+(.*)$", re.I | re.S)
# What a Distributed table can alter: its columns (it has no sorting key, indexes or parts).
_COLUMN_CLAUSE = re.compile(r"^(ADD|DROP|MODIFY|RENAME|COMMENT) COLUMN\b", re.I)
LOCAL_SUFFIX = "_local"
# How rows of the tables the writer inserts into are spread over shards: by content, so that a
# replayed batch lands on the same shards (its deduplication token matches there).
SHARDING_KEYS = {
    "otel_traces": "cityHash64(TraceId)",
    "otel_traces_trace_id_ts": "cityHash64(TraceId)",
    "otel_logs": "cityHash64(ServiceName, TraceId, Timestamp)",
    **{f"otel_metrics_{k}": "cityHash64(ServiceName, MetricName, TimeUnix)"
       for k in ("gauge", "sum", "histogram", "exponential_histogram", "summary")},
    # one agent's rows on one shard, so ReplacingMergeTree/FINAL can merge them
    "stackeye_agents": "cityHash64(Tenant, AgentId)",
    "stackeye_agent_config": "cityHash64(Tenant, AgentId)",
}


def _replicated_engine_names(stmt: str) -> str:
    """``Aggregating$engine`` renders ``AggregatingReplicatedMergeTree``: ClickHouse calls it
    ``ReplicatedAggregatingMergeTree``."""
    return _ENGINE_FAMILY.sub(r"Replicated\1MergeTree", stmt)


def distribute(statements: list[str], cluster: str) -> list[str]:
    """Each table becomes ``<name>_local`` (replicated, on every node) plus ``<name>``, a Distributed
    table over it; materialized views read and write the local tables, so each shard rolls up its
    own rows. Queries and inserts keep using the exporter's table names."""
    out = []
    for stmt in statements:
        table = _CREATE_TABLE.match(stmt)
        view = _CREATE_VIEW.match(stmt)
        if table and "ENGINE" in stmt.upper() and " AS " not in stmt.split("(")[0]:
            name = table.group(1)
            local = name + LOCAL_SUFFIX
            out.append(stmt.replace(table.group(0), f"CREATE TABLE IF NOT EXISTS {local} ON CLUSTER {cluster}", 1))
            key = SHARDING_KEYS.get(name, "rand()")
            out.append(
                f"CREATE TABLE IF NOT EXISTS {name} ON CLUSTER {cluster} AS {local} "
                f"ENGINE = Distributed({cluster}, currentDatabase(), {local}, {key})"
            )
        elif alter := _ALTER_TABLE.match(stmt):
            out.extend(_distribute_alter(alter.group(1), alter.group(2), cluster))
        elif view:
            stmt = _VIEW_TARGET.sub(lambda m: f"TO {m.group(1)}{LOCAL_SUFFIX}", stmt, count=1)
            stmt = _VIEW_SOURCE.sub(lambda m: f"FROM {m.group(1)}{LOCAL_SUFFIX}", stmt)
            out.append(stmt)
        else:
            out.append(stmt)
    return out


def _distribute_alter(name: str, clauses: str, cluster: str) -> list[str]:
    """``ALTER TABLE <name>``: everything on ``<name>_local``; the column clauses on the Distributed
    ``<name>`` too, so that inserts and queries through it see the same columns."""
    out = [f"ALTER TABLE {name}{LOCAL_SUFFIX} ON CLUSTER {cluster} {clauses}"]
    columns = [c for c in split_clauses(clauses) if _COLUMN_CLAUSE.match(c)]
    if columns:
        out.append(f"ALTER TABLE {name} ON CLUSTER {cluster} {', '.join(columns)}")
    return out


def split_clauses(sql: str) -> list[str]:
    """The comma-separated clauses of an ALTER, split outside brackets and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, c in enumerate(sql):
        if quote:
            if c == quote and sql[i - 1] != "\\":
                quote = ""
        elif c in "'`\"":
            quote = c
        elif c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(sql[start:i].strip())
            start = i + 1
    parts.append(sql[start:].strip())
    return [p for p in parts if p]


def split_statements(sql: str) -> list[str]:
    """Split on ';' at the end of a line; comments dropped. Our DDL keeps ';' out of strings."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]


def load_migrations() -> list[Migration]:
    folder = importlib.resources.files("stackeye.storage") / "schema"
    found = []
    for entry in folder.iterdir():
        m = _FILE.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two schema migrations share a version number: {versions}")
    return found


def bootstrap_statement(options: SchemaOptions) -> str:
    engine = "ReplicatedMergeTree" if options.cluster else "MergeTree"
    on_cluster = f"ON CLUSTER {options.cluster}" if options.cluster else ""
    return (
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} {on_cluster} ("
        "version UInt32, name String, checksum String, applied_at DateTime64(3) DEFAULT now64(3)"
        f") ENGINE = {engine} ORDER BY version"
    )


def apply_migrations(
    execute: Callable[[str], None],
    applied_versions: Callable[[], Iterable[int]],
    options: SchemaOptions,
    migrations: list[Migration] | None = None,
    progress: Callable[[str], None] = lambda msg: None,
) -> list[str]:
    """Apply what is not yet recorded. ``execute`` runs one statement; returns applied names."""
    execute(bootstrap_statement(options))
    done = set(applied_versions())
    applied = []
    for mig in migrations if migrations is not None else load_migrations():
        if mig.version in done:
            continue
        progress(f"applying schema migration {mig.version:03d}_{mig.name}")
        for stmt in mig.statements(options):
            execute(stmt)
        execute(
            f"INSERT INTO {MIGRATIONS_TABLE} (version, name, checksum) VALUES "
            f"({mig.version}, '{mig.name}', '{mig.checksum}')"
        )
        applied.append(f"{mig.version:03d}_{mig.name}")
    return applied
