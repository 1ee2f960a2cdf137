"""The gateway view's gateway rows from the access-log metrics (the agent's own OTLP encoding,
inserted through the real OTLP path): requests, 4xx/5xx rates, p95 and upstream avg/p95 over the
window; counter resets and series that began in the window; stub_status as the fallback; and the
cumulative helpers the view and the routing source share."""
from __future__ import annotations

import datetime as dt

import pytest
from stackeye.agent import otlp
from stackeye.agent.access_log import AccessRecord, AccessStats, Attempt
from stackeye.agent.model import Point
from stackeye.core.signals import Signal
from stackeye.query.views import cumulative, registry
from support import recent

T0 = recent.at(10, 0)
WINDOW = {"from": recent.iso(T0), "to": recent.iso(T0 + dt.timedelta(minutes=10))}
_seq = iter(range(10**6))


def ship(storage, host, points, at):
    req = otlp.metrics_request({"host.name": host}, points, (T0 + at).timestamp())
    storage.insert_otlp(Signal.METRICS, [req.SerializeToString()], f"gw-{next(_seq)}")


def traffic(stats, n, status, seconds, upstream_status=None, server="10.0.0.1:80"):
    for _ in range(n):
        stats.add(AccessRecord(status, seconds, (Attempt("shop", server, upstream_status or status, seconds),)))


@pytest.fixture(scope="module")
def loaded(chdb_path):
    from stackeye.storage.chdb_storage import ChdbStorage
    from stackeye.storage.url import parse_storage_url

    storage = ChdbStorage(parse_storage_url(f"chdb://{chdb_path}?database=q_gateway_access"))
    storage.migrate()
    start = (T0 - dt.timedelta(minutes=5)).timestamp()
    nginx = AccessStats("nginx", "edge-nginx", start)
    traffic(nginx, 50, 200, 0.01)  # before the window: not counted
    ship(storage, "h1", nginx.points(), dt.timedelta(seconds=-60))
    traffic(nginx, 80, 200, 0.01)
    traffic(nginx, 10, 404, 0.01)
    ship(storage, "h1", nginx.points(), dt.timedelta(seconds=60))
    traffic(nginx, 10, 502, 0.2)
    ship(storage, "h1", nginx.points(), dt.timedelta(seconds=120))
    # stub_status on the same host (left out) and on another host (kept: no access log there)
    ship(storage, "h1", [Point("nginx.requests", v, {"server.address": "127.0.0.1:80"}, "sum", "{request}", start)
                         for v in (0.0,)], dt.timedelta(seconds=61))
    ship(storage, "h1", [Point("nginx.requests", 999.0, {"server.address": "127.0.0.1:80"}, "sum", "", start)],
         dt.timedelta(seconds=121))
    for v, at in ((100.0, 30), (130.0, 90)):
        ship(storage, "h2", [Point("nginx.requests", v, {"server.address": "10.9.9.9:80"}, "sum", "", start)],
             dt.timedelta(seconds=at))
    # HAProxy: began counting inside the window, then restarted (a counter reset)
    first = AccessStats("haproxy", "edge-haproxy", (T0 + dt.timedelta(seconds=10)).timestamp())
    traffic(first, 30, 200, 0.05, server="s1")
    ship(storage, "h3", first.points(), dt.timedelta(seconds=20))
    again = AccessStats("haproxy", "edge-haproxy", (T0 + dt.timedelta(seconds=200)).timestamp())
    traffic(again, 10, 503, 0.05, server="s1")
    ship(storage, "h3", again.points(), dt.timedelta(seconds=210))
    # an agent that began 60 s before the window and first reported 30 s into it: 2/3 of its first
    # count happened before the window
    late = AccessStats("nginx", "late-start", (T0 - dt.timedelta(seconds=60)).timestamp())
    traffic(late, 90, 200, 0.01)
    ship(storage, "h4", late.points(), dt.timedelta(seconds=30))
    yield storage
    storage.close()


def rows(storage):
    return {r.gateway: r for r in registry.get("gateway").run(storage, **WINDOW).rows}


def test_nginx_row_from_the_access_log(loaded):
    r = rows(loaded)["edge-nginx"]
    assert (r.kind, r.requests) == ("nginx", 100)
    assert r.rate_per_s == pytest.approx(100 / 600, abs=1e-6)
    assert r.status_4xx_rate == pytest.approx(0.1) and r.status_5xx_rate == pytest.approx(0.1)
    # 90 at 10 ms, 10 at 200 ms: p95 is halfway into the (100, 250] ms bucket; avg 29 ms
    assert r.p95_ms == pytest.approx(175.0) and r.upstream_p95_ms == pytest.approx(175.0)
    assert r.upstream_avg_ms == pytest.approx(29.0)


def test_stub_status_is_the_fallback_only_where_no_access_log_is_read(loaded):
    got = rows(loaded)
    assert "127.0.0.1:80" not in got
    assert got["10.9.9.9:80"].kind == "nginx" and got["10.9.9.9:80"].requests == 30
    assert got["10.9.9.9:80"].status_5xx_rate is None


def test_haproxy_row_counts_fresh_series_and_resets(loaded):
    r = rows(loaded)["edge-haproxy"]
    assert (r.kind, r.requests) == ("haproxy", 40)
    assert r.status_5xx_rate == pytest.approx(0.25) and r.status_4xx_rate == 0
    assert 25 < r.upstream_p95_ms <= 50


def test_a_series_that_began_just_before_the_window_counts_its_share(loaded):
    assert rows(loaded)["late-start"].requests == 30


def test_limit_applies_to_every_row(loaded):
    got = registry.get("gateway").run(loaded, limit=2, **WINDOW).rows
    assert [r.gateway for r in got] == ["edge-nginx", "edge-haproxy"]


def test_quantile_and_count_above():
    bounds, buckets = [0.01, 0.1, 1.0], [10, 0, 10, 0]
    assert cumulative.quantile(bounds, buckets, 0.5) == pytest.approx(0.01)
    assert cumulative.quantile(bounds, buckets, 0.75) == pytest.approx(0.1 + 0.9 * 0.5)
    assert cumulative.quantile(bounds, [0, 0, 0, 5], 0.5) == 1.0  # overflow bucket: the last bound
    assert cumulative.quantile(bounds, [0, 0, 0, 0], 0.5) is None
    assert cumulative.count_above(bounds, buckets, 0.55) == pytest.approx(5)  # half of (0.1, 1.0]
    assert cumulative.count_above(bounds, buckets, 0.1) == pytest.approx(10)
    assert cumulative.count_above(bounds, [0, 0, 0, 3], 5.0) == 3
    assert cumulative.count_above(bounds, buckets, 0.005) == pytest.approx(15)


def test_merge_adds_histograms_with_the_same_bounds():
    a = {"count": 2, "sum": 0.3, "bounds": [0.1], "buckets": [1, 1]}
    b = {"count": 1, "sum": 0.05, "bounds": [0.1], "buckets": [1, 0]}
    assert cumulative.merge([a, b]) == {"count": 3, "sum": pytest.approx(0.35), "bounds": [0.1], "buckets": [2, 1]}
    assert cumulative.merge([]) is None
