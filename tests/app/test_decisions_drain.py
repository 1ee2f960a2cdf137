"""Draining a server by hand: POST /api/v1/decisions/routing/drain, with the registered routing policy."""
from __future__ import annotations

import datetime as dt
import types

import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient
from stackeye.app import decisions_api
from stackeye.app.decisions import DecisionService, load_policies
from stackeye.core.http import Router
from support.decision_data import insert, spans


@pytest.fixture
def api(chdb_storage, tmp_path):
    storage = chdb_storage()
    now = dt.datetime.now(dt.timezone.utc)
    for i in range(3):
        insert(storage, spans("checkout", f"r{i}", now - dt.timedelta(seconds=10), [10] * 30, host=f"h{i}", step_s=0.2))
    path = tmp_path / "policies.toml"
    path.write_text('[routing.checkout]\nsource = "instances"\n')
    service = DecisionService(storage, CollectorRegistry(), load_policies(str(path)), 15.0)
    router = Router()
    decisions_api.register(router, types.SimpleNamespace(storage=storage, decisions=service, openapi_paths={}))
    return TestClient(router.asgi("API", 1 << 20))


def _states(api):
    rows = api.get("/api/v1/decisions/routing?upstream=checkout").json()["decisions"]
    return {r["server"]: (r["state"], r["weight"]) for r in rows}


def test_a_drained_server_gets_no_weight_until_undrained(api):
    assert _states(api) == {f"r{i}": ("active", 100) for i in range(3)}
    answer = api.post("/api/v1/decisions/routing/drain", json={"upstream": "checkout", "server": "r1"})
    assert answer.status_code == 200 and answer.json() == {"upstream": "checkout", "server": "r1", "drained": True}
    states = _states(api)
    assert states["r1"] == ("drained", 0) and states["r0"] == states["r2"] == ("active", 100)
    api.post("/api/v1/decisions/routing/drain", json={"upstream": "checkout", "server": "r1", "drained": False})
    state, weight = _states(api)["r1"]
    assert state == "active" and 0 < weight < 100  # back from the floor weight up


@pytest.mark.parametrize("body,parameter", [
    ({"upstream": "checkout"}, "server"), ({"server": "r1"}, "upstream"),
    ({"upstream": "checkout", "server": "r1", "drained": "yes"}, "drained")])
def test_a_bad_drain_request_is_400(api, body, parameter):
    answer = api.post("/api/v1/decisions/routing/drain", json=body)
    assert answer.status_code == 400 and answer.json()["parameter"] == parameter
