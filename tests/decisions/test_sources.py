"""Routing sources: instances (SERVER spans per replica) and peers (callers' CLIENT spans per host:port)."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from stackeye.decisions import model, sources
from stackeye.query.views.params import Window
from support.decision_data import CLIENT, insert, spans
from support import recent

AT = recent.at(12, 0, 40)
WINDOW = Window(AT - dt.timedelta(seconds=30), AT)
T0 = AT - dt.timedelta(seconds=20)


@dataclasses.dataclass(frozen=True)
class Settings:  # the fields of RoutingSettings the sources read
    service: str = ""
    slow_call_ms: float = 500.0
    peers: tuple[str, ...] = ()


@pytest.fixture(scope="module")
def loaded(chdb_path):
    from stackeye.storage.chdb_storage import ChdbStorage
    from stackeye.storage.url import parse_storage_url

    storage = ChdbStorage(parse_storage_url(f"chdb://{chdb_path}?database=decisions_sources"))
    storage.migrate()
    sec = dt.timedelta(seconds=1)
    insert(
        storage,
        spans("pay", "p1", T0, [20] * 10, host="h1", peer="10.0.0.1:8080", attrs={"client.address": "10.0.1.1"}),
        spans("pay", "p2", T0, [20, 20, 600, 20, 20, 700, 20, 20, 800, 20], host="h2", peer="10.0.0.2:8080",
              status=[200] * 6 + [500, 200, 500, 500]),
        spans("pay", "p3", AT - dt.timedelta(minutes=10), [20] * 3, host="h3", peer="10.0.0.3:8080"),  # gone
        spans("api", "a1", T0, [15, 15], kind=CLIENT, peer="10.0.0.2:8080"),
        spans("web", "w1", T0 + sec, [10] * 5, kind=CLIENT, peer="10.0.0.1:8080"),
        spans("web", "w1", T0 + 2 * sec, [30, 3000, 3000, 3000], kind=CLIENT, peer="10.0.0.2:8080",
              status=[200, 0, 0, 0], error=[False, True, True, True]),
        spans("web", "w1", T0, [5] * 7, kind=CLIENT, peer="db:5432"),  # not a server of pay
    )
    yield storage
    storage.close()


def test_sources_registry_names_the_model_sources():
    assert tuple(sources.SOURCES) == model.SOURCES
    with pytest.raises(KeyError, match="unknown routing source 'nope'"):
        sources.get("nope")


def test_instances_give_each_replica_its_load(loaded):
    rows = {r.server: r for r in sources.server_loads("instances", loaded, "pay", Settings(), WINDOW)}
    assert set(rows) == {"p1", "p2"}  # p3 sent nothing in the window
    p1, p2 = rows["p1"], rows["p2"]
    assert (p1.upstream, p1.source, p1.host, p1.requests, p1.errors, p1.callers) == ("pay", "instances", "h1", 10, 0, 1)
    assert (p2.requests, p2.errors, p2.status_5xx, p2.slow_calls, p2.consecutive_5xx) == (10, 3, 3, 3, 2)
    assert p1.mean_ms == pytest.approx(20.0) and p1.p95_ms == pytest.approx(20.0)
    assert p2.mean_ms == pytest.approx((7 * 20 + 600 + 700 + 800) / 10)


def test_instances_of_the_service_the_policy_names(loaded):
    rows = sources.server_loads("instances", loaded, "payments-upstream", Settings(service="pay"), WINDOW)
    assert [r.server for r in rows] == ["p1", "p2"] and {r.upstream for r in rows} == {"payments-upstream"}


def test_peers_pool_every_callers_client_spans(loaded):
    rows = {r.server: r for r in sources.server_loads("peers", loaded, "pay", Settings(), WINDOW)}
    assert set(rows) == {"10.0.0.1:8080", "10.0.0.2:8080"}  # db:5432 belongs to no pay replica
    one, two = rows["10.0.0.1:8080"], rows["10.0.0.2:8080"]
    assert (one.requests, one.errors, one.callers, one.host, one.source) == (5, 0, 1, "10.0.0.1", "peers")
    # api's two calls, then web's: one answered, three that failed without a response
    assert (two.requests, two.errors, two.status_5xx, two.callers) == (6, 3, 0, 2)
    assert two.consecutive_5xx == 3 and two.slow_calls == 3


def test_peers_named_in_the_policy(loaded):
    rows = sources.server_loads("peers", loaded, "pay", Settings(peers=("10.0.0.1:8080", "db:5432")), WINDOW)
    assert [(r.server, r.requests) for r in rows] == [("10.0.0.1:8080", 5), ("db:5432", 7)]


def test_slow_call_threshold_is_the_policys(loaded):
    rows = {r.server: r for r in sources.server_loads("instances", loaded, "pay", Settings(slow_call_ms=650), WINDOW)}
    assert rows["p2"].slow_calls == 2
