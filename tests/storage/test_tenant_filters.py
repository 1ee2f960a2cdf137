"""The per-tenant filters: every table of the catalog gets one, system tables that show data or
other sessions answer nothing, tenant names are checked."""
from __future__ import annotations

import pytest
from stackeye.storage import tenant_filters


def test_every_table_is_filtered_to_the_tenant_or_to_nothing():
    catalog = [("default", "otel_traces", 1), ("default", "stackeye_schema_migrations", 0),
               ("system", "processes", 0), ("system", "one", 0), ("information_schema", "tables", 0)]
    f = tenant_filters.filters("team-a", catalog)
    assert f == {"default.otel_traces": "Tenant = 'team-a'", "default.stackeye_schema_migrations": "0",
                 "system.processes": "0"}
    assert tenant_filters.setting_statement(f) == (
        "SET additional_table_filters = {'default.otel_traces': 'Tenant = \\'team-a\\'', "
        "'default.stackeye_schema_migrations': '0', 'system.processes': '0'}")


@pytest.mark.parametrize("name", ["", "Team", "a'b", "a b", "-a", "x" * 64, "a\\b"])
def test_bad_tenant_names_are_refused(name):
    with pytest.raises(ValueError, match="bad tenant name"):
        tenant_filters.filters(name, [])


def test_on_chdb_every_table_of_the_schema_has_the_tenant_column(chdb_storage):
    st = chdb_storage()
    rows = st.query(tenant_filters.CATALOG_QUERY).rows
    ours = {t: int(has) for db, t, has in rows if db == st.url.database}
    missing = sorted(t for t, has in ours.items() if not has and not t.endswith("_mv"))
    assert missing == ["stackeye_schema_migrations"], missing
