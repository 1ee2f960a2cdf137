"""Confining a connection to one tenant's rows with ClickHouse's ``additional_table_filters``.

Every row stackeye writes carries a ``Tenant`` column. A tenant's queries run on connections whose
session sets ``additional_table_filters`` to ``Tenant = '<tenant>'`` for every table that has the
column and to ``0`` (no rows) for every other table, then ``readonly = 1``: from then on no query on
that connection can change the setting (ClickHouse answers READONLY to ``SETTINGS`` or ``SET``). The
filter applies wherever a table is read — directly, through a view, a subquery, a CTE, a JOIN, a
UNION, ``IN (…)`` or ``view()`` — because ClickHouse applies it to the table read, not to the text.
(``merge()``, which would read the tables unfiltered, is refused by :mod:`.query_guard`.)

The ``system`` tables are filtered to nothing except those that describe the engine and not its
data or its other sessions (:data:`SYSTEM_TABLES_ALLOWED`): ``system.processes``, ``system.tables``
(row counts), ``system.parts``, ``system.errors`` (texts of failed queries) answer no rows.

chDB has no users, grants or row policies (``CREATE ROW POLICY`` needs access management, which
clickhouse-local lacks), so settings the query cannot change are the mechanism the engine offers.
"""
from __future__ import annotations

import re

TENANT_COLUMN = "Tenant"
DEFAULT_TENANT = "default"
_TENANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# Describe the engine, hold nothing of any tenant and no other session's activity.
SYSTEM_TABLES_ALLOWED = frozenset({
    "one", "numbers", "numbers_mt", "zeros", "zeros_mt", "functions", "table_functions", "formats",
    "data_type_families", "aggregate_function_combinators", "build_options", "time_zones", "collations",
    "keywords", "settings", "databases", "table_engines", "contributors", "licenses", "merge_tree_settings",
    "data_skipping_indices_types", "dictionaries_types",
})
# Databases whose tables are views over system tables: those reads are filtered there.
_VIEW_DATABASES = frozenset({"information_schema", "INFORMATION_SCHEMA"})

CATALOG_QUERY = (
    "SELECT database, table, max(name = 'Tenant') FROM system.columns GROUP BY database, table "
    "UNION ALL SELECT database, name, 0 FROM system.tables WHERE (database, name) NOT IN "
    "(SELECT database, table FROM system.columns)"
)


def check_tenant(tenant: str) -> str:
    if not isinstance(tenant, str) or not _TENANT.match(tenant):
        raise ValueError(f"bad tenant name {tenant!r}: lower-case letters, digits, '_' and '-', at most 63, "
                         "starting with a letter or digit")
    return tenant


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def filters(tenant: str, catalog: list[tuple[str, str, int]]) -> dict[str, str]:
    """``{database.table: filter}`` for every table of ``catalog`` (database, table, has Tenant)."""
    check_tenant(tenant)
    own = f"{TENANT_COLUMN} = {_quote(tenant)}"
    out: dict[str, str] = {}
    for database, table, has_tenant in catalog:
        if database in _VIEW_DATABASES:
            continue
        if database == "system":
            if table not in SYSTEM_TABLES_ALLOWED:
                out[f"system.{table}"] = "0"
            continue
        out[f"{database}.{table}"] = own if int(has_tenant) else "0"
    return out


def map_literal(table_filters: dict[str, str]) -> str:
    """``table_filters`` as the setting's value: a ClickHouse map literal."""
    return "{" + ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in sorted(table_filters.items())) + "}"


def setting_statement(table_filters: dict[str, str]) -> str:
    """The ``SET additional_table_filters = {…}`` statement of ``table_filters``."""
    return f"SET additional_table_filters = {map_literal(table_filters)}"
