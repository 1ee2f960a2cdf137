"""Routing source ``gateway``: servers of an upstream from access-log metrics (the agent's own
encoding, inserted through the real OTLP path), pooled over two gateways on two hosts: request
and 5xx counts over the window, latency from the histograms, slow calls interpolated within a
bucket, the latest consecutive-5xx run, and nothing from other upstreams."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from stackeye.agent import otlp
from stackeye.agent.access_log import AccessRecord, AccessStats, Attempt
from stackeye.core.signals import Signal
from stackeye.decisions import sources
from stackeye.decisions.model import ServerLoad
from stackeye.decisions.sources import gateway
from stackeye.query.views.params import Window
from support import recent

T0 = recent.at(10, 0)
WINDOW = Window(T0, T0 + dt.timedelta(minutes=5))


@dataclasses.dataclass(frozen=True)
class Settings:  # the fields of RoutingSettings this source reads
    slow_call_ms: float = 300.0


def add(stats, upstream, server, status, seconds, n=1):
    for _ in range(n):
        stats.add(AccessRecord(status, seconds, (Attempt(upstream, server, status, seconds),)))


@pytest.fixture(scope="module")
def storage(chdb_path):
    from stackeye.storage.chdb_storage import ChdbStorage
    from stackeye.storage.url import parse_storage_url

    s = ChdbStorage(parse_storage_url(f"chdb://{chdb_path}?database=d_sources_gateway"))
    s.migrate()
    start = (T0 - dt.timedelta(minutes=1)).timestamp()
    n1 = AccessStats("nginx", "edge-a", start)
    n2 = AccessStats("nginx", "edge-b", (T0 + dt.timedelta(seconds=10)).timestamp())  # began in the window

    def ship(host, stats, at):
        req = otlp.metrics_request({"host.name": host}, stats.points(), (T0 + dt.timedelta(seconds=at)).timestamp())
        s.insert_otlp(Signal.METRICS, [req.SerializeToString()], f"src-gw-{host}-{at}")

    add(n1, "shop", "10.0.0.1:80", 200, 0.01, 5)  # before the window
    ship("h1", n1, -30)
    add(n1, "shop", "10.0.0.1:80", 200, 0.01, 40)
    add(n1, "shop", "10.0.0.2:80", 200, 0.5, 10)  # (0.25, 0.5] s: above 300 ms by (500-300)/250 of the bucket
    add(n1, "shop", "10.0.0.2:80", 503, 0.05, 3)
    add(n1, "other", "10.0.0.9:80", 500, 0.01, 7)  # another upstream
    ship("h1", n1, 30)
    add(n2, "shop", "10.0.0.1:80", 200, 0.02, 20)
    add(n2, "shop", "10.0.0.2:80", 502, 0.05, 6)
    ship("h2", n2, 40)
    add(n2, "shop", "10.0.0.2:80", 200, 0.05, 1)  # ends edge-b's run of 5xx
    ship("h2", n2, 100)
    yield s
    s.close()


def test_servers_pooled_over_gateways(storage):
    loads = {l.server: l for l in sources.server_loads("gateway", storage, "shop", Settings(), WINDOW)}
    assert set(loads) == {"10.0.0.1:80", "10.0.0.2:80"}
    one, two = loads["10.0.0.1:80"], loads["10.0.0.2:80"]
    assert isinstance(one, ServerLoad) and one.source == "gateway" and one.upstream == "shop"
    assert one.host == "10.0.0.1"
    assert (one.requests, one.errors, one.status_5xx, one.slow_calls, one.callers) == (60, 0, 0, 0, 2)
    assert one.mean_ms == pytest.approx((40 * 10 + 20 * 20) / 60, abs=1e-3)
    assert (two.requests, two.errors, two.status_5xx, two.callers) == (20, 9, 9, 2)
    assert two.slow_calls == round(10 * (500 - 300) / 250)
    assert two.mean_ms == pytest.approx((10 * 500 + 10 * 50) / 20)
    assert 250 < two.p95_ms <= 500
    # edge-a's last word on it was 3 failures in a row; edge-b's run was ended by a 200
    assert two.consecutive_5xx == 3 and one.consecutive_5xx == 0


def test_other_upstreams_and_empty_windows(storage):
    (other,) = gateway.server_loads(storage, "other", Settings(), WINDOW)
    assert (other.server, other.requests, other.status_5xx, other.consecutive_5xx, other.callers) == (
        "10.0.0.9:80", 7, 7, 7, 1)
    assert gateway.server_loads(storage, "nope", Settings(), WINDOW) == []
    later = Window(T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=2))
    assert gateway.server_loads(storage, "shop", Settings(), later) == []


def test_upstream_names_are_quoted(storage):
    assert gateway.server_loads(storage, "x' OR 1=1 --", Settings(), WINDOW) == []


def test_address_host():
    assert [gateway.address_host(s) for s in ("10.0.0.1:80", "[::1]:8080", "s1", "unix:/run/a.sock", "app:x")] == [
        "10.0.0.1", "::1", "", "", ""]


def test_the_evaluator_routes_on_the_gateway_source(storage):
    """What `stackeye decide routing --upstream other` and the API run: a [routing.<upstream>] table
    with source = "gateway" (the routing policy here is the evaluator tests' double: eject on 5 in a row)."""
    from stackeye.decisions import policy_file
    from stackeye.decisions.evaluate import Evaluator
    from support.fake_policies import KNOWN, policy_of

    doc = {"routing": {"other": {"source": "gateway", "window": "5m"}, "shop": {"source": "gateway", "window": "5m"}}}
    ev = Evaluator(storage, policy_file.from_mapping_doc(doc, **KNOWN), policy_of=policy_of)
    at = WINDOW.end
    (other,) = ev.routing("other", at=at, persist=False)
    assert (other.server, other.state, other.weight) == ("10.0.0.9:80", "ejected", 0)
    shop = {d.server: d.state for d in ev.routing("shop", at=at, persist=False)}
    assert shop == {"10.0.0.1:80": "active", "10.0.0.2:80": "active"}  # 3 in a row is under the double's 5
