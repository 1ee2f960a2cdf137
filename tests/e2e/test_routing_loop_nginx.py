"""The closed routing loop on a real nginx: spans in, a decision out, the upstream file rewritten
and nginx reloaded.

As the HAProxy loop (test_routing_loop_haproxy.py), with ``--nginx-conf``: three instrumented
upstreams behind nginx, ``stackeye decide apply routing --apply --every 1s`` reading the decisions
of a real ``stackeye up --policy``; the upstream that starts failing half its requests becomes
``down`` in the file (``nginx -t``, graceful reload) and stops receiving requests.
"""
from __future__ import annotations

import time

import pytest
from support.gateways import nginx_gateway  # noqa: F401 (fixture)
from support.loop import SERVICE, Applier, LoadClient, assert_drained_traffic, start_up, start_upstreams, stop_all
from support.wait import wait_until

pytestmark = pytest.mark.slow
NAMES = ("u0", "u1", "u2")


def test_a_failing_upstream_becomes_down_and_stops_receiving_requests(tmp_path, nginx_gateway):  # noqa: F811
    up = start_up(str(tmp_path))
    ups: list = []
    ups, client, applier = [], None, None
    try:
        ups = start_upstreams(NAMES, up.otlp_grpc, str(tmp_path))
        servers = "".join(f"    server {u.address};\n" for u in ups)
        gw = nginx_gateway(SERVICE, f"upstream {SERVICE} {{\n{servers}}}\n")
        client = LoadClient(gw.url).start()
        server_map = [arg for u in ups for arg in ("--server-map", f"{u.name}={u.address}")]
        applier = Applier(up, ["--nginx-conf", gw.upstream_conf, "--nginx-main-conf", gw.main_conf,
                               "--nginx-prefix", gw.root, *server_map], str(tmp_path / "applier.log")).start()

        def conf():
            return open(gw.upstream_conf).read()

        def why():
            return f"{gw.upstream_conf}:\n{conf()}\napplier:\n{applier.log()[-3000:]}\nnginx:\n{gw.error_log()[-1500:]}"

        # healthy: the applier has written its file (all three up), nothing fails
        start = time.monotonic()
        # (the first files may name only the upstreams whose spans have arrived: wait for all three)
        wait_until(lambda: "written by `stackeye decide apply routing`" in conf()
                   and all(f"server {u.address} weight=" in conf() for u in ups), timeout=45, message=why)
        assert " down;" not in conf(), why()
        wait_until(lambda: client.failed(start)[1] >= 60, timeout=20, message="too few requests before the fault")
        failed, total = client.failed(start)
        assert failed == 0 and set(client.served_by(start)) == set(NAMES), (failed, total, client.served_by(start))

        # u1 fails half its requests: it becomes down in the file, nginx reloads
        ups[1].fail_half()
        fault = time.monotonic()
        wait_until(lambda: client.failed(fault)[0] > 0, timeout=10, message="the fault never reached the client")
        wait_until(lambda: f"server {ups[1].address} down;  # u1" in conf(), timeout=45, message=why)
        drained = time.monotonic()
        assert "reloaded" in applier.log()

        # from then on u1 gets nothing and the failures fall back
        assert_drained_traffic(client, drained)
        assert applier.stop() == 0
    finally:
        stop_all(client, applier, ups, up)
