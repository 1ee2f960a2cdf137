"""The decisions API of stackeye up (app/decisions_api.py) and its scheduler, in process.

The policies are the test doubles (support.fake_policies); tests/app/test_up_policy.py runs a real
``stackeye up --policy`` with the real ones.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import types

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from starlette.testclient import TestClient
from stackeye.app import decisions_api
from stackeye.app.decisions import DecisionService, load_policies
from stackeye.core.http import Router
from support.decision_data import gauge, insert, spans
from support.fake_registry import fake_policies  # noqa: F401 (fixture)

GOOD = '[autoscale.checkout]\ncpu_pct = 60\n\n[routing.checkout]\nwindow = "1m"\n'


@pytest.fixture
def api(chdb_storage, tmp_path, fake_policies):  # noqa: F811
    storage = chdb_storage()
    now = dt.datetime.now(dt.timezone.utc)  # the API evaluates as of the wall clock: data of the last seconds
    for i in range(3):
        insert(storage, spans("checkout", f"r{i}", now - dt.timedelta(seconds=5), [10] * 4, host=f"h{i}", step_s=0.5),
               gauge("checkout", f"r{i}", "process.cpu.utilization", [(now - dt.timedelta(seconds=3), 0.9)]))
    path = tmp_path / "policies.toml"
    path.write_text(GOOD)
    registry = CollectorRegistry()
    service = DecisionService(storage, registry, load_policies(str(path)), 15.0)
    ctx = types.SimpleNamespace(storage=storage, decisions=service, openapi_paths={})
    router = Router()
    decisions_api.register(router, ctx)
    client = TestClient(router.asgi("API", 1 << 20))
    client.service, client.path, client.registry, client.ctx = service, path, registry, ctx
    return client


def test_autoscale_rows_carry_the_decision(api):
    doc = api.get("/api/v1/decisions/autoscale").json()
    (row,) = doc["decisions"]
    assert (row["service"], row["current_replicas"], row["desired_replicas"]) == ("checkout", 3, 5)
    assert row["limiting_target"] == "cpu" and "cpu 90%" in row["reason"]
    assert {"recommendations", "applied", "at"} <= set(row)
    assert api.get("/api/v1/decisions/autoscale?service=other").json()["decisions"][0]["current_replicas"] == 0


def test_routing_rows_and_required_upstream(api):
    rows = api.get("/api/v1/decisions/routing?upstream=checkout").json()["decisions"]
    assert [(r["server"], r["weight"], r["state"], r["breaker"]) for r in rows] == \
        [("r0", 100, "active", "closed"), ("r1", 100, "active", "closed"), ("r2", 100, "active", "closed")]
    bad = api.get("/api/v1/decisions/routing")
    assert bad.status_code == 400 and bad.json()["parameter"] == "upstream"


def test_at_is_checked_and_reads_store_nothing(api):
    bad = api.get("/api/v1/decisions/autoscale?at=yesterday")
    assert bad.status_code == 400 and bad.json()["parameter"] == "at"
    old = api.get("/api/v1/decisions/autoscale?at=-1h").json()
    assert old["decisions"][0]["current_replicas"] == 0  # nothing was running an hour ago
    assert api.get("/api/v1/decisions/history?kind=autoscale").json()["rows"] == []


def test_post_evaluates_with_the_policies_sent(api):
    body = {"policies": {"autoscale": {"checkout": {"cpu_pct": 30}}}}
    (row,) = api.post("/api/v1/decisions/autoscale", json=body).json()["decisions"]
    assert row["desired_replicas"] == 9
    bad = api.post("/api/v1/decisions/autoscale", json={"policies": {"autoscale": {"checkout": {"cpu_pct": 0}}}})
    assert bad.status_code == 400 and (bad.json()["policy"], bad.json()["key"], bad.json()["field"]) == \
        ("autoscale", "checkout", "cpu_pct")


@pytest.mark.parametrize("table, field, message", [
    ({"max_replica": 3}, "max_replica", "unknown key"),
    ({"min_replicas": 5, "max_replicas": 2}, "max_replicas", "must be at least min_replicas"),
    ({"cpu_pct": -1}, "cpu_pct", "must be positive"),
])
def test_put_a_bad_policy_is_400_and_changes_nothing(api, table, field, message):
    resp = api.put("/api/v1/policies", json={"autoscale": {"checkout": table}})
    doc = resp.json()
    assert resp.status_code == 400 and message in doc["error"]
    assert (doc["policy"], doc["key"], doc["field"]) == ("autoscale", "checkout", field)
    assert api.path.read_text() == GOOD
    assert api.get("/api/v1/policies").json()["policies"]["autoscale"] == {"checkout": {"cpu_pct": 60}}


def test_put_replaces_the_running_policy_and_the_file(api):
    resp = api.put("/api/v1/policies", json={"autoscale": {"checkout": {"cpu_pct": 45, "max_replicas": 4}}})
    assert resp.status_code == 200
    assert "cpu_pct = 45" in api.path.read_text()
    got = api.get("/api/v1/policies").json()
    assert got["path"] == str(api.path) and got["resolved"]["autoscale"]["checkout"]["max_replicas"] == 4
    assert got["policies"] == {"autoscale": {"checkout": {"cpu_pct": 45, "max_replicas": 4}}}
    assert api.get("/api/v1/decisions/autoscale").json()["decisions"][0]["desired_replicas"] == 4  # capped


def test_the_scheduler_stores_counts_and_survives_failures(api, caplog):
    caplog.set_level(logging.INFO, "stackeye.decisions")
    api.service.scheduler.tick()
    rows = api.get("/api/v1/decisions/history?kind=autoscale&key=checkout").json()["rows"]
    assert len(rows) == 1 and rows[0]["changed"] and rows[0]["decision"]["desired_replicas"] == 5
    assert len(api.get("/api/v1/decisions/history?kind=routing&changed=true").json()["rows"]) == 3
    text = generate_latest(api.registry).decode()
    assert 'stackeye_decisions_total{changed="true",kind="autoscale"} 1.0' in text
    assert 'stackeye_decision_evaluations_total{kind="routing",outcome="ok"} 1.0' in text
    assert "autoscale checkout: cpu 90%" in caplog.text  # a change is logged

    def broken(*a, **kw):
        raise RuntimeError("storage went away")
    api.service.evaluator.evaluate = broken
    api.service.scheduler.tick()  # logged and counted, not raised
    text = generate_latest(api.registry).decode()
    assert 'stackeye_decision_evaluations_total{kind="all",outcome="failed"} 1.0' in text
    assert "decision evaluation failed" in caplog.text


def test_history_parameters_are_checked(api):
    assert api.get("/api/v1/decisions/history?kind=nope").status_code == 400
    assert api.get("/api/v1/decisions/history?limit=x").json()["parameter"] == "limit"


def test_openapi_paths_are_registered(api):
    paths = api.ctx.openapi_paths
    assert {"/api/v1/decisions/autoscale", "/api/v1/decisions/routing", "/api/v1/decisions/history",
            "/api/v1/policies"} <= set(paths)
    from stackeye.query.views_api import openapi_doc
    assert "/api/v1/policies" in openapi_doc(paths)["paths"] and json.dumps(openapi_doc(paths))


def test_put_when_the_file_cannot_be_written_changes_nothing(api, tmp_path):
    api.service.path = str(tmp_path / "missing-dir" / "policies.toml")
    resp = api.put("/api/v1/policies", json={"autoscale": {"checkout": {"cpu_pct": 10}}})
    assert resp.status_code == 500 and "unchanged" in resp.json()["error"]
    assert api.get("/api/v1/policies").json()["policies"]["autoscale"] == {"checkout": {"cpu_pct": 60}}
