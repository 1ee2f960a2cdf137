"""Every registered view follows the conventions: one module, frozen snake_case rows, documented
parameters, examples, runs on an empty database; the issue's JSON keys are there."""
from __future__ import annotations

import dataclasses
import os
import re

import pytest
from stackeye.query.views import registry

VIEWS = registry.all_views()
REQUIRED_KEYS = {
    "services": "service calls errors error_rate rate_per_s p50_ms p95_ms p99_ms apdex",
    "servers": "host response_time_ms error_rate throughput_rps cpu_pct memory_free_pct",
    "external": "service peer calls error_rate avg_ms p95_ms time_share_pct",
    "transactions": "service route calls error_rate p50_ms p95_ms p99_ms time_share_pct",
    "database": "service db_system statement calls avg_ms p95_ms max_ms time_share_pct",
}


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
def test_view_contract(view, empty_storage):
    module = __import__(f"stackeye.query.views.{view.name}", fromlist=["VIEW"])
    assert module.VIEW is view and module.__doc__ and view.summary and view.examples
    assert os.path.getsize(module.__file__) < 16_000, "one small module per view"
    assert dataclasses.is_dataclass(view.row) and view.row.__dataclass_params__.frozen
    for name in view.columns:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
    for p in view.all_params:
        assert p.help, f"{view.name}.{p.name} has no help"
    raw = {"trace": {"trace_id": "0" * 32}, "callstack": {"service": "x"}}.get(view.name, {"since": "1h"})
    result = view.run(empty_storage, **raw)
    assert result.rows == [] and isinstance(result.to_json()["rows"], list)


@pytest.mark.parametrize("name,keys", sorted(REQUIRED_KEYS.items()))
def test_required_json_keys(name, keys):
    assert set(keys.split()) <= set(registry.get(name).columns)


def test_registry_is_one_line_per_module():
    here = os.path.dirname(registry.__file__)
    for name in registry.VIEWS:
        assert os.path.exists(os.path.join(here, f"{name}.py"))
    with pytest.raises(KeyError, match="services"):
        registry.get("nope")
    assert registry.get("service-map").name == "service_map"
