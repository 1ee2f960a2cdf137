"""Each view on the generated data set equals the answers computed in Python from the records:
counts exact, durations and percentiles within 1 µs (below 8192 values per group ClickHouse's
``quantile`` is exact, with linear interpolation)."""
from __future__ import annotations

import collections
import datetime as dt

import pytest
import support.query_expected as E
from stackeye.query import demo_data as d
from stackeye.query.views import registry
from support.query_expected import FROM, TO, WINDOW

SECONDS = (TO - FROM).total_seconds()
MS = 0.0011  # rounding of *_ms to µs, plus float noise


def run(demo, view, **kw):
    return registry.get(view).run(demo.storage, **WINDOW, **kw)


def close(a, b, tol=MS):
    return abs(float(a) - float(b)) <= tol


@pytest.mark.parametrize("t", [100, 500])
def test_services(demo, t):
    want = E.services(demo.spans(), SECONDS, t)
    got = {r.service: r for r in run(demo, "services", apdex_t_ms=t, limit=1000).rows}
    assert set(got) == set(want)
    assert "reporting" in got, "a service without SERVER spans is measured on its root spans"
    assert "fulfillment" in got, "CONSUMER spans are entries"
    for name, w in want.items():
        g = got[name]
        assert (g.calls, g.errors) == (w["calls"], w["errors"]), name
        assert close(g.error_rate, w["error_rate"], 1e-6) and close(g.rate_per_s, w["rate_per_s"], 1e-6)
        for k in ("avg_ms", "p50_ms", "p95_ms", "p99_ms"):
            assert close(getattr(g, k), w[k]), (name, k, getattr(g, k), w[k])
        assert close(g.apdex, w["apdex"], 1e-4), (name, g.apdex, w["apdex"])


def test_services_known_numbers(demo):
    """Numbers a person can check against the generator: every trace has exactly one root."""
    spans = demo.spans()
    roots = [s for s in spans if not s.parent_id]
    rows = {r.service: r for r in run(demo, "services").rows}
    edge_calls = sum(rows[s].calls for s in ("frontend", "checkout") if s in rows)
    assert sum(r.calls for r in rows.values()) == len(E.entries(spans))
    assert rows["reporting"].calls == sum(1 for s in roots if s.service == "reporting")
    assert rows["reporting"].errors == 0
    assert edge_calls >= sum(1 for s in roots if s.service in ("frontend", "checkout"))


def test_services_sort_limit_offset(demo):
    everything = run(demo, "services", sort="error_rate", limit=100).rows
    rates = [r.error_rate for r in everything]
    assert rates == sorted(rates, reverse=True)
    page = run(demo, "services", sort="error_rate", limit=2, offset=1).rows
    assert [r.service for r in page] == [r.service for r in everything[1:3]]
    one = run(demo, "services", service="checkout").rows
    assert [r.service for r in one] == ["checkout"]


def test_transactions(demo):
    want = E.transactions(demo.spans())
    got = {(r.service, r.route): r for r in run(demo, "transactions", limit=1000).rows}
    assert set(got) == set(want)
    for key, w in want.items():
        g = got[key]
        assert (g.calls, g.errors) == (w["calls"], w["errors"]), key
        for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "avg_ms"):
            assert close(getattr(g, k), w[k]), (key, k)
        assert close(g.time_share_pct, w["time_share_pct"], 0.001)
    assert close(sum(r.time_share_pct for r in got.values()), 100, 0.05)
    assert any(route.endswith("/{id}") for _, route in got), "routes are templates"


def test_transactions_route_filter_keeps_the_global_share(demo):
    top = run(demo, "transactions", sort="time", limit=1).rows[0]
    only = run(demo, "transactions", service=top.service, route=top.route).rows
    assert len(only) == 1 and only[0].calls == top.calls
    assert only[0].time_share_pct < 100


def test_external(demo):
    want = E.external(demo.spans())
    got = {(r.service, r.peer): r for r in run(demo, "external", limit=1000).rows}
    assert set(got) == set(want)
    assert any(p.startswith("api.stripe.com:443") for _, p in got)
    assert ("checkout", "kafka:9092") in got or any(p == "kafka:9092" for _, p in got), "PRODUCER spans count"
    for key, w in want.items():
        g = got[key]
        assert (g.calls, g.errors) == (w["calls"], w["errors"]), key
        assert close(g.avg_ms, w["avg_ms"]) and close(g.p95_ms, w["p95_ms"]), key
        assert close(g.time_share_pct, w["time_share_pct"], 0.001), key
    by_time = run(demo, "external", sort="time").rows
    assert [r.time_share_pct for r in by_time] == sorted((r.time_share_pct for r in by_time), reverse=True)


def test_external_counts_old_and_new_peer_attributes_together(demo):
    """Half the calls to an API carry net.peer.name/port, half server.address/port: one row."""
    spans = [s for s in demo.spans() if s.kind == d.CLIENT and E.peer(s) in d.EXTERNALS]
    assert any("net.peer.name" in s.attrs for s in spans) and any("server.address" in s.attrs for s in spans)
    got = run(demo, "external", limit=1000).rows
    assert sum(r.calls for r in got if r.peer in d.EXTERNALS) == len(spans)


def test_database(demo):
    want = E.database(demo.spans())
    got = {(r.service, r.db_system, r.statement): r for r in run(demo, "database", limit=1000).rows}
    assert set(got) == set(want)
    for key, w in want.items():
        g = got[key]
        assert (g.calls, g.rows) == (w["calls"], w["rows"]), key
        for k in ("avg_ms", "p95_ms", "max_ms"):
            assert close(getattr(g, k), w[k]), (key, k)
        assert close(g.time_share_pct, w["time_share_pct"], 0.001)
        assert g.slowest_trace_id == w["slowest_trace_id"]
    assert all("?" in s for _, _, s in got), "literals are normalized away"


def test_servers(demo):
    start, end = int(FROM.timestamp() * 1e9), int(TO.timestamp() * 1e9)
    want = E.servers(demo.records, demo.spans(), SECONDS, start, end)
    got = {r.host: r for r in run(demo, "servers", limit=1000).rows}
    assert set(got) == set(want)
    for host, w in want.items():
        g = got[host]
        assert g.calls == w["calls"], host
        if w["calls"]:
            assert close(g.response_time_ms, w["avg_ms"]) and close(g.p95_ms, w["p95_ms"])
            assert close(g.error_rate, w["error_rate"], 1e-6) and close(g.throughput_rps, w["rate_per_s"], 1e-6)
        assert close(g.cpu_pct, w["cpu_pct"], 0.001) and close(g.memory_free_pct, w["memory_free_pct"], 0.001)


def test_errors(demo):
    spans = E.error_spans(demo.spans())
    rows = run(demo, "errors", limit=1000).rows
    assert sum(r.count for r in rows) == len(spans)
    exc = [s for s in spans if any(e[0] == "exception" for e in s.events)]
    by_type = collections.Counter(next(e for e in s.events if e[0] == "exception")[2]["exception.type"] for s in exc)
    got_types = collections.Counter()
    for r in rows:
        got_types[r.exception_type] += r.count
    for t, n in by_type.items():
        assert got_types[t] == n
    timeouts = [r for r in rows if r.exception_type == "TimeoutError"]
    assert timeouts and all(r.message == "order ? failed after ? attempts" for r in timeouts), \
        "messages differing only in numbers share a fingerprint"
    assert all(r.first_seen <= r.last_seen for r in rows)
    ids = {s.trace_id.hex() for s in spans}
    assert all(r.sample_trace_id in ids for r in rows)


def test_errors_per_group(demo):
    want = E.errors(demo.spans())
    got = {(r.service, r.route, r.exception_type, r.message): r for r in run(demo, "errors", limit=1000).rows}
    assert set(got) == set(want)
    for key, w in want.items():
        g = got[key]
        assert g.count == w["count"], key
        assert g.sample_trace_id == w["trace"], key
        ns = lambda t: round(dt.datetime.fromisoformat(t[:26] + "+00:00").timestamp() * 1e6)  # noqa: E731
        assert (ns(g.first_seen), ns(g.last_seen)) == (w["first"] // 1000, w["last"] // 1000), key


def test_logs(demo):
    logs = [r for r in demo.records if isinstance(r, d.Log)]
    rows = run(demo, "logs", limit=10_000).rows
    assert len(rows) == len(logs)
    assert [r.timestamp for r in rows] == sorted((r.timestamp for r in rows), reverse=True), "newest first"
    errors = run(demo, "logs", severity="error", limit=10_000).rows
    assert len(errors) == sum(1 for r in logs if r.severity_number >= 17) > 0
    text = run(demo, "logs", text="timeout", service="checkout", limit=10_000).rows
    assert len(text) == sum(1 for r in logs if "timeout" in r.body.split() and r.service == "checkout")
    tid = logs[0].trace_id.hex()
    assert {r.trace_id for r in run(demo, "logs", trace_id=tid).rows} == {tid}
    page1 = run(demo, "logs", limit=5).rows
    page2 = run(demo, "logs", limit=5, offset=5).rows
    assert page1[-1].timestamp >= page2[0].timestamp and not set(page1) & set(page2)


def test_trace_tree_and_self_time(demo):
    spans = demo.spans()
    by_trace = collections.defaultdict(list)
    for s in spans:
        by_trace[s.trace_id].append(s)
    trace_id, members = max(by_trace.items(), key=lambda kv: len(kv[1]))
    result = registry.get("trace").run(demo.storage, trace_id=trace_id.hex())
    rows = result.rows
    assert len(rows) == len(members) and result.extra["span_count"] == len(members)
    assert rows[0].depth == 0 and rows[0].parent_span_id == ""
    ids = [r.span_id for r in rows]
    for r in rows[1:]:
        assert ids.index(r.parent_span_id) < ids.index(r.span_id), "parents come before children"
    by_id = {s.span_id.hex(): s for s in members}
    for r in rows:
        s = by_id[r.span_id]
        kids = [c for c in members if c.parent_id == s.span_id]
        end = s.start_ns + s.dur_ns  # siblings never overlap; a consumer may outlive its producer
        covered = sum(max(0, min(end, c.start_ns + c.dur_ns) - max(s.start_ns, c.start_ns)) for c in kids)
        assert close(r.self_ms, (s.dur_ns - covered) / 1e6), r.name
        assert r.depth == (0 if not s.parent_id else next(x.depth for x in rows if x.span_id == r.parent_span_id) + 1)


def test_trace_callstack_attached(demo):
    slow = [s for s in demo.spans() if any(e[0] == "stackeye.callstack" for e in s.events)]
    assert slow, "the generator records call stacks on slow requests"
    rows = registry.get("trace").run(demo.storage, trace_id=slow[0].trace_id.hex()).rows
    root = next(r for r in rows if r.span_id == slow[0].span_id.hex())
    assert [f["signature"] for f in root.callstack][1:] == ["app.services:compute_total",
                                                            "SELECT id, total FROM orders WHERE id = ?"]
    assert close(root.callstack[0]["total_ms"], slow[0].dur_ns / 1e6, 0.001)


def test_trace_unknown_id_is_empty(demo):
    result = registry.get("trace").run(demo.storage, trace_id="0" * 32)
    assert result.rows == [] and result.extra["found"] is False


def test_service_map(demo):
    spans = demo.spans()
    edges, errors = E.service_edges(spans)
    result = run(demo, "service_map")
    got = {(r.source, r.target): r for r in result.rows if r.kind == "service"}
    assert set(got) == set(edges)
    for key, n in edges.items():
        assert (got[key].calls, got[key].errors) == (n, errors[key]), key
    assert any(t == "fulfillment" for _, t in got), "PRODUCER → CONSUMER edge, through the queue"
    db = {(r.source, r.target): r.calls for r in result.rows if r.kind == "database"}
    want_db = collections.Counter((s.service, "db:" + s.attrs["db.system"]) for s in spans if "db.system" in s.attrs)
    assert db == dict(want_db)
    ext = {r.target for r in result.rows if r.kind == "external"}
    assert ext == {"ext:" + p for p in d.EXTERNALS if any(E.peer(s) == p for s in spans)}, \
        "peers a service answers for (users:8080) are service edges, not external ones"
    nodes = {n["id"]: n["kind"] for n in result.extra["nodes"]}
    assert nodes["frontend"] == "service" and nodes["db:postgresql"] == "database"


def test_service_map_rollup_edges_equal_the_parent_child_join(demo):
    fast = run(demo, "service_map").rows
    join = run(demo, "service_map", method="join").rows
    assert fast == join
    only = run(demo, "service_map", service="checkout").rows
    assert only and all("checkout" in (r.source, r.target) for r in only)


def test_callstack_merges_the_records_of_a_route(demo):
    slow = [s for s in demo.spans() if any(e[0] == "stackeye.callstack" for e in s.events)]
    service = slow[0].service
    mine = [s for s in slow if s.service == service]
    rows = run(demo, "callstack", service=service).rows
    root_total = sum(s.dur_ns / 1e6 for s in mine)
    top = [r for r in rows if r.depth == 0]
    assert sum(r.samples for r in top) == len(mine)
    assert close(sum(r.total_ms for r in top), root_total, 0.001 * len(mine) + 0.01)
    assert close(sum(r.time_pct for r in top), 100, 0.01)
    compute = [r for r in rows if r.signature == "app.services:compute_total"]
    assert compute and close(sum(r.time_pct for r in compute), 60, 0.1)
    assert sum(r.calls for r in compute) == 2 * len(mine)


def test_callstack_reads_the_instrumentation_tree_format():
    from stackeye.query.views.callstack_format import parse_frames

    doc = ('{"v":1,"interval_ms":5,"samples":6,"duration_ms":30.0,"truncated":false,"frames":[{"signature":"GET /x",'
           '"total_ms":30.0,"self_ms":0.0,"calls":1,"children":[{"signature":"a","total_ms":30.0,"self_ms":0.0,'
           '"calls":1,"children":[{"signature":"SQL: SELECT ?","total_ms":10.0,"self_ms":10.0,"calls":1,"kind":"sql"}]}]}]}')
    frames = parse_frames(doc)
    assert [(f["signature"], f["depth"], f["total_ms"]) for f in frames] == [
        ("GET /x", 0, 30.0), ("a", 1, 30.0), ("SQL: SELECT ?", 2, 10.0)]
    assert parse_frames("not json") == []


def test_gateway(demo):
    spans = demo.spans()
    edge = [s for s in spans if s.kind == d.SERVER and not s.parent_id]
    rows = {r.gateway: r for r in run(demo, "gateway").rows}
    for service, group in E.group_by(edge, lambda s: s.service).items():
        r = rows[service]
        assert r.kind == "service" and r.requests == len(group)
        n4 = sum(1 for s in group if s.attrs.get("http.response.status_code") == 404)
        n5 = sum(1 for s in group if s.attrs.get("http.response.status_code") == 500)
        assert close(r.status_4xx_rate, n4 / len(group), 1e-6) and close(r.status_5xx_rate, n5 / len(group), 1e-6)
        ups = [s.dur_ns / 1e6 for s in spans if s.service == service and s.kind == d.CLIENT and "db.system" not in s.attrs]
        assert close(r.upstream_p95_ms, E.quantile(ups, 0.95))
    nginx = [m for m in demo.records if isinstance(m, d.MiddlewareSample) and m.metric == "nginx.requests"]
    assert rows["nginx-edge:80"].requests == nginx[-1].value - nginx[0].value
    assert rows["nginx-edge:80"].status_5xx_rate is None


def test_hosts(demo):
    samples = [r for r in demo.records if isinstance(r, d.HostSample)]
    rows = run(demo, "hosts", interval="10m", limit=10_000).rows
    host = samples[0].host
    mine = [r for r in rows if r.host == host]
    start = int(FROM.timestamp()) * 10**9
    first = [s for s in samples if s.host == host and s.time_ns < start + 600 * 10**9]
    assert mine[0].time == FROM.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert close(mine[0].cpu_pct, 100 * (1 - sum(s.cpu_idle for s in first) / len(first)), 0.001)
    assert close(mine[0].memory_used_pct, 100 * (1 - sum(s.mem_free for s in first) / len(first)), 0.001)
    assert close(mine[0].disk_bytes_per_s, sum(s.disk_bps for s in first) / len(first), 0.01)
    assert close(mine[0].network_bytes_per_s, sum(s.net_bps for s in first) / len(first), 0.01)
    assert close(mine[0].load_1m, sum(s.load_1m for s in first) / len(first), 0.001)
    assert len(mine) == 12 and len({r.host for r in rows}) == demo.spec.hosts


def test_middleware(demo):
    samples = [m for m in demo.records if isinstance(m, d.MiddlewareSample)]
    rows = {(r.instance, r.metric): r for r in run(demo, "middleware").rows}
    assert set(rows) == {(m.instance, m.metric) for m in samples}
    for (instance, metric), r in rows.items():
        values = [m.value for m in samples if (m.instance, m.metric) == (instance, metric)]
        assert r.points == len(values) and r.middleware == metric.split(".")[0]
        assert close(r.last, values[-1], 1e-3) and close(r.min, min(values), 1e-3) and close(r.max, max(values), 1e-3)
        assert close(r.avg, sum(values) / len(values), 1e-3)
        if r.kind == "sum":
            assert close(r.increase, values[-1] - values[0], 1e-3)
    redis = run(demo, "middleware", middleware="redis").rows
    assert redis and {r.instance for r in redis} == {"redis:6379"}


def test_timeseries_of_services_adds_up(demo):
    spans = E.entries(demo.spans())
    rows = run(demo, "timeseries", of="services", interval="10m", series=50).rows
    want = E.services(demo.spans(), 1)
    for service, w in want.items():
        assert sum(r.calls for r in rows if r.series == service) == w["calls"]
        assert sum(r.errors for r in rows if r.series == service) == w["errors"]
    first = [s for s in spans if s.service == "checkout" and s.start_ns < int(FROM.timestamp() + 600) * 10**9]
    point = next(r for r in rows if r.series == "checkout" and r.time == FROM.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert point.calls == len(first)
    assert close(point.p95_ms, E.quantile([s.dur_ns / 1e6 for s in first], 0.95))


def test_timeseries_of_a_metric(demo):
    samples = [m for m in demo.records if isinstance(m, d.MiddlewareSample) and m.metric == "redis.clients.connected"]
    rows = run(demo, "timeseries", of="metric", metric="redis.clients.connected", interval="1h").rows
    assert [r.series for r in rows] == ["redis:6379"] * 2
    first_hour = [m.value for m in samples if m.time_ns < int(FROM.timestamp() + 3600) * 10**9]
    assert close(rows[0].value, sum(first_hour) / len(first_hour), 1e-4)


def test_timeseries_busiest_series_only(demo):
    rows = run(demo, "timeseries", of="transactions", series=3).rows
    assert len({r.series for r in rows}) == 3


def test_timeseries_of_errors_and_logs(demo):
    want = E.errors(demo.spans())
    rows = run(demo, "timeseries", of="errors", interval="1h", series=100).rows
    by_series = collections.Counter()
    for (service, _, etype, _), w in want.items():
        by_series[f"{service} {etype}"] += w["count"]
    got = collections.Counter()
    for r in rows:
        got[r.series] += r.calls
    assert got == by_series
    logs = [r for r in demo.records if isinstance(r, d.Log)]
    rows = run(demo, "timeseries", of="logs", interval="1h", series=100).rows
    assert sum(r.calls for r in rows) == len(logs)
    assert sum(r.errors for r in rows) == sum(1 for r in logs if r.severity_number >= 17)
    fast = run(demo, "timeseries", of="errors", interval="5m", series=100).rows
    raw = registry.get("timeseries").run(demo.storage, use_rollups=False, of="errors", interval="5m", series=100,
                                         **WINDOW).rows
    assert fast == raw
