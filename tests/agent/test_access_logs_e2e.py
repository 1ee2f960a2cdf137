"""Gateway access logs end to end: a real nginx (log_format stackeye) and a real HAProxy (option
httplog, its log on stdout into a file), each in front of two local upstream servers of which one
answers 500 (slowly); `stackeye agent --config FILE` with the nginx_access and haproxy_access
collectors ships into a real `stackeye up`; the gateway view (HTTP API) shows each gateway's
requests, 5xx rate and latency, and the routing source `gateway` returns both servers of each
upstream with their counts."""
from __future__ import annotations

import dataclasses
import datetime as dt
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from stackeye.decisions.sources import gateway as gateway_source
from stackeye.query.views.params import Window
from support.logs import log_tail
from support.services import free_port, port_open, require
from support.wait import wait_until

pytestmark = pytest.mark.slow
REQUESTS = 40  # per gateway, round robin over its two servers
SLOW_S = 0.12  # the failing server's answer time: inside the (100, 250] ms bucket


class _Upstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        failing = self.server.failing
        if failing:
            time.sleep(SLOW_S)
        body = b"broken\n" if failing else b"ok\n"
        self.send_response(500 if failing else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def upstreams():
    servers = []
    for failing in (False, True):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Upstream)
        srv.failing = failing
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    yield [f"127.0.0.1:{s.server_address[1]}" for s in servers]
    for s in servers:
        s.shutdown()


def _binary(name: str) -> str:
    path = shutil.which(name) or f"/usr/sbin/{name}"
    require(os.path.exists(path), f"{name} is not installed; install it with: apt-get install {name} "
                                  "(listed in scripts/apt-packages.txt)")
    return path


@pytest.fixture(scope="module")
def nginx(tmp_path_factory, upstreams):
    from stackeye.agent.collectors.nginx_access import nginx_directive

    d = tmp_path_factory.mktemp("nginx-access")
    port = free_port()
    good, bad = upstreams
    (d / "nginx.conf").write_text(f"""
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
worker_processes 1;
events {{ worker_connections 64; }}
http {{
    {nginx_directive()}
    access_log {d}/access.log stackeye;
    client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
    upstream shop {{ server {good}; server {bad}; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{ proxy_pass http://shop; }}
    }}
}}
""")
    proc = subprocess.Popen([_binary("nginx"), "-p", str(d), "-c", str(d / "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: port_open("127.0.0.1", port), timeout=10, interval=0.05,
               message=lambda: f"nginx did not listen on {port}\n{log_tail(str(d / 'error.log'))}")
    yield f"http://127.0.0.1:{port}", str(d / "access.log")
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def haproxy(tmp_path_factory, upstreams):
    d = tmp_path_factory.mktemp("haproxy-access")
    port = free_port()
    good, bad = upstreams
    (d / "haproxy.cfg").write_text(f"""
global
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    option dontlognull
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance roundrobin
    server s1 {good}
    server s2 {bad}
""")
    log_path = d / "haproxy.log"
    out = open(log_path, "wb")
    proc = subprocess.Popen([_binary("haproxy"), "-db", "-f", str(d / "haproxy.cfg")], stdout=out,
                            stderr=subprocess.STDOUT)
    wait_until(lambda: port_open("127.0.0.1", port), timeout=10, interval=0.05,
               message=lambda: f"haproxy did not listen on {port}\n{log_tail(str(log_path))}")
    yield f"http://127.0.0.1:{port}", str(log_path)
    proc.terminate()
    proc.wait(10)
    out.close()


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as err:
        err.read()
        return err.code


class _ApiSource:
    """A view/decisions source over a running stackeye's /api/v1/sql."""

    def __init__(self, server):
        self.server = server

    def query(self, sql):
        status, body = self.server.request("POST", "/api/v1/sql", {"query": sql})
        doc = json.loads(body)
        assert status == 200, doc
        return type("Result", (), {"columns": doc["columns"], "rows": doc["rows"]})


@dataclasses.dataclass(frozen=True)
class Settings:  # the field of RoutingSettings the source reads
    slow_call_ms: float = 100.0


def test_gateways_access_logs_reach_the_view_and_the_routing_source(stackeye_up, upstreams, nginx, haproxy, tmp_path):
    nginx_url, nginx_log = nginx
    haproxy_url, haproxy_log = haproxy
    begin = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    conf = tmp_path / "agent.toml"
    conf.write_text(f"""
collector = "{stackeye_up.otlp_grpc}"
interval = "1s"
otlp_listen = "off"
agent_protocol = false
state_dir = "{tmp_path / 'state'}"

[collectors.nginx_access]
enabled = true
path = "{nginx_log}"
name = "e2e-nginx"
start_at = "beginning"

[collectors.haproxy_access]
enabled = true
path = "{haproxy_log}"
name = "e2e-haproxy"
start_at = "beginning"
""")
    statuses = [_get(nginx_url + f"/item/{i}") for i in range(REQUESTS)]
    statuses += [_get(haproxy_url + f"/item/{i}") for i in range(REQUESTS)]
    assert sorted(set(statuses)) == [200, 500]
    err = open(tmp_path / "agent.err", "w+")
    agent = subprocess.Popen([sys.executable, "-m", "stackeye.cli.main", "agent", "--config", str(conf)],
                             stdout=subprocess.DEVNULL, stderr=err)
    seen: list = [None]
    try:
        def view_rows():
            status, body = stackeye_up.request("GET", "/api/v1/views/gateway?since=1h")
            assert status == 200, body
            rows = seen[0] = {r["gateway"]: r for r in json.loads(body)["rows"]}
            # every metric of a gateway arrived: its request counts and its duration histograms
            # (an export may carry the counters before the histograms)
            done = all(rows.get(g, {}).get("requests") == REQUESTS and rows[g].get("p95_ms") is not None
                       and rows[g].get("upstream_p95_ms") is not None for g in ("e2e-nginx", "e2e-haproxy"))
            return rows if done else None

        rows = wait_until(view_rows, timeout=90, interval=0.5,
                          message=lambda: f"the gateways' rows in the gateway view: {seen[0]}\n"
                                         f"{log_tail(err.name, nginx_log, haproxy_log, n=1500)}")
    finally:
        agent.send_signal(signal.SIGTERM)
        rc = agent.wait(60)
    assert rc == 0, log_tail(err.name)
    for name, kind in (("e2e-nginx", "nginx"), ("e2e-haproxy", "haproxy")):
        r = rows[name]
        assert r["kind"] == kind and r["status_5xx_rate"] == 0.5 and r["status_4xx_rate"] == 0
        assert SLOW_S * 1000 < r["p95_ms"] <= 250, r  # half the answers took 120 ms
        assert SLOW_S * 1000 / 2 * 0.9 < r["upstream_avg_ms"] < 250, r
        assert SLOW_S * 1000 < r["upstream_p95_ms"] <= 250, r

    window = Window(begin, dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1))
    source = _ApiSource(stackeye_up)
    half = REQUESTS // 2
    for upstream, (good, bad) in (("shop", upstreams), ("be", ("s1", "s2"))):
        loads = {l.server: l for l in gateway_source.server_loads(source, upstream, Settings(), window)}
        assert sorted(loads) == sorted([good, bad]), loads
        ok, failing = loads[good], loads[bad]
        assert (ok.source, ok.upstream, ok.callers, failing.callers) == ("gateway", upstream, 1, 1)
        assert (ok.requests, ok.status_5xx, ok.errors, ok.slow_calls, ok.consecutive_5xx) == (half, 0, 0, 0, 0)
        assert (failing.requests, failing.status_5xx, failing.errors) == (half, half, half)
        assert failing.slow_calls == half and failing.consecutive_5xx == half
        assert failing.mean_ms > SLOW_S * 1000 > ok.mean_ms
