"""The closed routing loop on a real HAProxy: spans in, a decision out, the runtime API acting on it.

Three upstream processes instrumented with stackeye.instrumentation send their SERVER spans to a
real ``stackeye up --policy``; a load client goes through HAProxy (the Debian package, started by
the fixture, admin socket at level admin); ``stackeye decide apply routing --apply --every 1s``
reads the decisions from that ``up`` over HTTP. When one upstream starts failing half its
requests, the routing policy ejects it (failure percentage), the applier sets it to ``maint`` over
the runtime API, and the client's failures stop.
"""
from __future__ import annotations

import time

import pytest
from stackeye.decisions.actuators.haproxy_runtime import parse_servers_state
from support.gateways import haproxy_gateway  # noqa: F401 (fixture)
from support.loop import SERVICE, Applier, LoadClient, assert_drained_traffic, start_up, start_upstreams, stop_all
from support.wait import wait_until

pytestmark = pytest.mark.slow
NAMES = ("u0", "u1", "u2")


def test_a_failing_upstream_is_put_in_maintenance_and_the_failures_stop(tmp_path, haproxy_gateway):  # noqa: F811
    up = start_up(str(tmp_path))
    ups: list = []
    ups, client, applier = [], None, None
    try:
        ups = start_upstreams(NAMES, up.otlp_grpc, str(tmp_path))
        gw = haproxy_gateway(SERVICE, {u.name: u.address for u in ups})
        client = LoadClient(f"http://127.0.0.1:{gw.port}/").start()
        applier = Applier(up, ["--haproxy-socket", gw.socket, "--backend", SERVICE],
                          str(tmp_path / "applier.log")).start()

        def states():
            return {n: s.state for n, s in parse_servers_state(gw.command(f"show servers state {SERVICE}"),
                                                               SERVICE).items()}

        def why():
            return f"servers {states()}\napplier:\n{applier.log()[-3000:]}\nup:\n{up.log_tail(2000)}"

        # healthy: every upstream answers through HAProxy, the decisions know all three, nothing fails
        start = time.monotonic()
        wait_until(lambda: set(client.served_by(start)) == set(NAMES), timeout=20, message=why)
        wait_until(lambda: len(up.sql(f"SELECT DISTINCT ResourceAttributes['service.instance.id'] AS i "
                                      f"FROM otel_traces WHERE ServiceName = '{SERVICE}'")) == 3,
                   timeout=30, message=why)
        wait_until(lambda: client.failed(start)[1] >= 60, timeout=20, message="too few requests before the fault")
        failed, total = client.failed(start)
        assert total >= 60 and failed == 0, (failed, total)
        assert states() == dict.fromkeys(NAMES, "ready")

        # u1 fails half its requests: the client sees it, then the applier puts u1 in maintenance
        ups[1].fail_half()
        fault = time.monotonic()
        wait_until(lambda: client.failed(fault)[0] > 0, timeout=10, message="the fault never reached the client")
        wait_until(lambda: states()["u1"] == "maint", timeout=45, message=why)
        drained = time.monotonic()
        assert states() == {"u0": "ready", "u1": "maint", "u2": "ready"}
        assert "u1 applied" in applier.log()

        # from then on the failures fall back and u1 gets nothing
        assert_drained_traffic(client, drained)
        assert applier.stop() == 0
    finally:
        stop_all(client, applier, ups, up)
