"""The access-log collectors on canned lines: nginx's log_format stackeye (every form of its
multi-value upstream fields, `-`), HAProxy's httplog (syslog and raw lines, <NOSRV>, -1 timers,
logasap), the counts they add up to, their OTLP encoding (histograms, the gateway's resource),
and the config errors."""
from __future__ import annotations

import pytest
from opentelemetry.proto.metrics.v1 import metrics_pb2
from stackeye.agent import otlp
from stackeye.agent.access_log import DURATION_BOUNDS, AccessLogReader, AccessRecord, AccessStats, Attempt
from stackeye.agent.collectors import haproxy_access, nginx_access
from stackeye.core.config import ConfigError

PATTERN = nginx_access.compile_log_format(nginx_access.DEFAULT_FORMAT)


def nginx(line):
    return nginx_access.parse_line(line, PATTERN)


def test_nginx_single_upstream():
    rec = nginx('2026-12-02T19:00:00+00:00 200 0.012 GET checkout "127.0.0.1:8081" "200" "0.011" shop.example')
    assert rec == AccessRecord(200, 0.012, (Attempt("checkout", "127.0.0.1:8081", 200, 0.011),))


def test_nginx_retry_within_a_group_counts_each_attempt_for_its_server():
    rec = nginx('2026-12-02T19:00:00+00:00 200 0.250 POST checkout "10.0.0.1:80, 10.0.0.2:80" "502, 200" '
                '"0.100, 0.140" shop')
    assert rec.attempts == (Attempt("checkout", "10.0.0.1:80", 502, 0.1), Attempt("checkout", "10.0.0.2:80", 200, 0.14))


def test_nginx_internal_redirect_groups_and_dashes():
    rec = nginx('2026-12-02T19:00:00+00:00 504 60.001 GET api "10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80" '
                '"504, - : 504" "60.000, - : -" api.example')
    assert rec.status == 504 and rec.seconds == 60.001
    assert rec.attempts == (Attempt("api", "10.0.0.1:80", 504, 60.0), Attempt("api", "10.0.0.2:80", None, None),
                            Attempt("api", "10.0.0.3:80", 504, None))


def test_nginx_request_without_upstream():
    rec = nginx('2026-12-02T19:00:00+00:00 404 0.000 GET - "-" "-" "-" static.example')
    assert rec == AccessRecord(404, 0.0, ())


def test_nginx_no_live_server_charges_no_server_but_a_direct_address_is_one():
    rec = nginx('2026-12-02T19:00:00+00:00 502 0.000 GET shop "shop" "502" "0.000" h')
    assert rec == AccessRecord(502, 0.0, ())
    rec = nginx('2026-12-02T19:00:00+00:00 200 0.001 GET 127.0.0.1:8080 "127.0.0.1:8080" "200" "0.001" h')
    assert rec.attempts == (Attempt("127.0.0.1:8080", "127.0.0.1:8080", 200, 0.001),)


def test_nginx_unix_socket_upstream_keeps_its_address():
    rec = nginx('2026-12-02T19:00:00+00:00 200 0.003 GET app "unix:/run/app.sock" "200" "0.002" h')
    assert rec.attempts == (Attempt("app", "unix:/run/app.sock", 200, 0.002),)


def test_nginx_other_line_is_an_error():
    with pytest.raises(ValueError, match="log_format"):
        nginx('127.0.0.1 - - [02/Dec/2026:19:00:00 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8"')


def test_nginx_custom_format_with_the_required_variables():
    fmt = '[$time_local] $remote_addr "$request" $status $request_time up=$proxy_host "$upstream_addr" ' \
          '"$upstream_status" "$upstream_response_time"'
    pattern = nginx_access.compile_log_format(fmt)
    rec = nginx_access.parse_line('[02/Dec/2026:19:00:00 +0000] 127.0.0.1 "GET /a HTTP/1.1" 503 1.5 up=pool '
                                  '"10.0.0.9:80" "503" "1.499"', pattern)
    assert rec == AccessRecord(503, 1.5, (Attempt("pool", "10.0.0.9:80", 503, 1.499),))


def test_nginx_format_missing_variables_is_a_config_error_naming_them():
    with pytest.raises(ConfigError, match=r"log_format: the format lacks \$upstream_status, \$upstream_response_time"):
        nginx_access.compile_log_format('$status $request_time $proxy_host "$upstream_addr"')


def test_nginx_directive_is_what_the_docs_print():
    assert nginx_access.nginx_directive() == ("log_format stackeye '$time_iso8601 $status $request_time "
                                              "$request_method $proxy_host \"$upstream_addr\" \"$upstream_status\" "
                                              "\"$upstream_response_time\" $host';")


HAPROXY_SYSLOG = ('Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in '
                  'static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"')


def test_haproxy_syslog_line():
    rec = haproxy_access.parse_line(HAPROXY_SYSLOG)
    assert rec == AccessRecord(200, 0.109, (Attempt("static", "srv1", 200, 0.099),))


def test_haproxy_raw_line_and_ipv6_client():
    line = ('[::1]:51234 [02/Dec/2026:19:00:00.001] fe be/app2 0/0/0/12/12 500 210 - - ---- 1/1/0/0/0 0/0 '
            '"GET /x HTTP/1.1"')
    assert haproxy_access.parse_line(line) == AccessRecord(500, 0.012, (Attempt("be", "app2", 500, 0.012),))


def test_haproxy_nosrv_charges_no_server():
    line = ('127.0.0.1:40000 [02/Dec/2026:19:00:00.001] fe be/<NOSRV> 0/-1/-1/-1/0 503 217 - - SC-- 1/1/0/0/0 0/0 '
            '"GET / HTTP/1.1"')
    assert haproxy_access.parse_line(line) == AccessRecord(503, 0.0, ())


def test_haproxy_minus_one_timers_and_logasap():
    aborted = ('127.0.0.1:40000 [02/Dec/2026:19:00:00.001] fe be/s1 5/0/1/-1/30001 504 194 - - sH-- 1/1/0/0/0 0/0 '
               '"GET /slow HTTP/1.1"')
    assert haproxy_access.parse_line(aborted) == AccessRecord(504, 30.001, (Attempt("be", "s1", 504, 29.996),))
    client_gone = ('127.0.0.1:40000 [02/Dec/2026:19:00:00.001] fe be/s1 -1/-1/-1/-1/-1 -1 0 - - CR-- 1/1/0/0/0 0/0 '
                   '"<BADREQ>"')
    assert haproxy_access.parse_line(client_gone) == AccessRecord(0, None, (Attempt("be", "s1", None, None),))
    logasap = ('127.0.0.1:40000 [02/Dec/2026:19:00:00.001] fe be/s2 1/0/0/3/+4 200 +512 - - ---- 1/1/0/0/0 0/0 '
               '"GET / HTTP/1.1"')
    assert haproxy_access.parse_line(logasap) == AccessRecord(200, 0.004, (Attempt("be", "s2", 200, 0.003),))


def test_haproxy_notices_are_skipped_and_other_formats_are_errors():
    assert haproxy_access.parse_line("Proxy fe started.") is None
    assert haproxy_access.parse_line("Dec  2 19:00:00 host haproxy[1]: Server be/s1 is DOWN, reason: ...") is None
    with pytest.raises(ValueError, match="httplog"):  # option tcplog
        haproxy_access.parse_line("127.0.0.1:40000 [02/Dec/2026:19:00:00.001] fe be/s1 0/0/5 212 -- 1/1/0/0/0 0/0")


def _values(points, name):
    return {tuple(sorted(p.attrs.items())): p for p in points if p.name == name}


def test_stats_count_attempts_statuses_histograms_and_consecutive_5xx():
    stats = AccessStats("nginx", "edge", start=1000.0)
    a, b = "10.0.0.1:80", "10.0.0.2:80"
    for rec in [AccessRecord(200, 0.02, (Attempt("up", a, 200, 0.01),)),
                AccessRecord(200, 0.3, (Attempt("up", b, 502, 0.1), Attempt("up", a, 200, 0.2))),
                AccessRecord(500, 0.06, (Attempt("up", b, 500, 0.05),)),
                AccessRecord(404, 0.0, ()),
                AccessRecord(502, None, (Attempt("up", b, None, None),))]:
        stats.add(rec)
    points = stats.points()
    assert all(p.resource == {"service.name": "edge"} for p in points)
    reqs = {(p.attrs["server.address"], p.attrs["http.response.status_code"]): p.value
            for p in points if p.name == "gateway.upstream.requests"}
    assert reqs == {(a, "200"): 2, (b, "502"): 1, (b, "500"): 1}
    assert {p.attrs["server.address"]: p.value for p in points if p.name == "gateway.upstream.consecutive_5xx"} \
        == {a: 0, b: 2}
    hist = {p.attrs["server.address"]: p for p in points if p.name == "gateway.upstream.duration"}
    assert hist[b].count == 2 and hist[b].value == pytest.approx(0.15) and hist[b].unit == "s"
    assert hist[b].buckets[DURATION_BOUNDS.index(0.05)] == 1 and hist[b].buckets[DURATION_BOUNDS.index(0.1)] == 1
    assert sum(hist[a].buckets) == 2 and hist[a].start == 1000.0
    gw = {p.attrs["http.response.status_code"]: p.value for p in points if p.name == "gateway.requests"}
    assert gw == {"200": 2, "404": 1, "500": 1, "502": 1}
    (own,) = [p for p in points if p.name == "gateway.request.duration"]
    assert own.count == 4 and own.attrs == {"gateway.kind": "nginx"}


def test_otlp_encodes_histograms_under_the_gateways_resource():
    stats = AccessStats("haproxy", "edge-haproxy", start=1000.0)
    stats.add(AccessRecord(200, 0.02, (Attempt("be", "s1", 200, 0.01),)))
    req = otlp.metrics_request({"host.name": "h1"}, stats.points() + [otlp.Point("system.x", 1.0)], 2000.0)
    by_service = {}
    for rm in req.resource_metrics:
        attrs = {kv.key: kv.value.string_value for kv in rm.resource.attributes}
        by_service[attrs.get("service.name")] = (attrs, {m.name: m for m in rm.scope_metrics[0].metrics})
    assert set(by_service) == {"edge-haproxy", None}
    attrs, metrics = by_service["edge-haproxy"]
    assert attrs["host.name"] == "h1"
    h = metrics["gateway.upstream.duration"].histogram
    assert h.aggregation_temporality == metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    dp = h.data_points[0]
    assert dp.count == 1 and dp.sum == pytest.approx(0.01) and list(dp.explicit_bounds) == list(DURATION_BOUNDS)
    assert len(dp.bucket_counts) == len(DURATION_BOUNDS) + 1 and dp.start_time_unix_nano == 1000 * 10**9
    assert metrics["gateway.upstream.requests"].sum.is_monotonic
    assert "system.x" in by_service[None][1]


def test_reader_tails_rotation_and_counts_bad_lines(tmp_path, caplog):
    log = tmp_path / "access.log"
    line = '2026-12-02T19:00:00+00:00 200 0.010 GET up "127.0.0.1:1" "200" "0.009" h\n'
    log.write_text(line * 3 + "garbage\n")
    reader = AccessLogReader("nginx", "nginx", str(tmp_path / "*.log"), "beginning",
                             lambda s: nginx_access.parse_line(s, PATTERN), "fix: use log_format stackeye")
    points = reader.collect()
    assert _values(points, "gateway.access_log.unparsed")[(("gateway.kind", "nginx"),)].value == 1
    assert "fix: use log_format stackeye" in caplog.text
    log.rename(tmp_path / "access.log.1")  # rename rotation: the old file is finished, the new one read
    with open(tmp_path / "access.log.1", "a") as f:
        f.write(line)
    (tmp_path / "access.log").write_text(line * 2)
    points = reader.collect()
    total = sum(p.value for p in points if p.name == "gateway.upstream.requests")
    assert total == 6
    reader.close()


def test_collector_config_errors_name_the_field():
    from stackeye.agent import config as agent_config

    with pytest.raises(ConfigError, match=r"collectors\.nginx_access\.log_format.*\$upstream_addr"):
        agent_config.from_mapping({"collectors": {"nginx_access": {"enabled": True, "log_format": "$status"}}})
    with pytest.raises(ConfigError, match=r"collectors\.haproxy_access\.name"):
        agent_config.from_mapping({"collectors": {"haproxy_access": {"name": ""}}})


def test_print_config_shows_the_nginx_log_format():
    from stackeye.agent import config as agent_config

    text = agent_config.render_toml()
    assert "[collectors.nginx_access]" in text and "[collectors.haproxy_access]" in text
    assert "log_format stackeye" in text and "option httplog" in text


def test_agent_help_prints_the_nginx_log_format():
    from stackeye.cli import agent as agent_cli

    assert nginx_access.nginx_directive() in agent_cli.EPILOG


def test_cli_exits_2_naming_a_log_format_without_the_upstream_variables(tmp_path):
    import subprocess
    import sys

    conf = tmp_path / "agent.toml"
    conf.write_text('collector = "127.0.0.1:4317"\n[collectors.nginx_access]\nenabled = true\n'
                    'log_format = "$status $request_time"\n')
    proc = subprocess.run([sys.executable, "-m", "stackeye.cli.main", "agent", "print-config", "--config", str(conf)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "collectors.nginx_access.log_format" in proc.stderr and "log_format stackeye '" in proc.stderr
