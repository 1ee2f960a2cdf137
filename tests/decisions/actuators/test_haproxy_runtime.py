"""The HAProxy runtime applier against a real HAProxy with three servers and an admin socket."""
from __future__ import annotations

import datetime as dt

import pytest
from stackeye.core.errors import Fatal
from stackeye.decisions.actuators import haproxy_runtime
from stackeye.decisions.actuators.haproxy_runtime import RuntimeAPI, parse_servers_state
from stackeye.decisions.gateways import RenderOptions, haproxy
from stackeye.decisions.model import RoutingDecision
from support.gateways import backends, haproxy_gateway  # noqa: F401 (fixtures)

AT = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)
MAP = {"s1": "127.0.0.1:9001", "s2": "127.0.0.1:9002", "s3": "127.0.0.1:9003"}


def wanted(**servers):
    rows = [RoutingDecision("checkout", name, AT, w, state, "closed", "t") for name, (w, state) in servers.items()]
    return haproxy.settings("checkout", rows, RenderOptions(server_map=MAP))


def state(gw):
    now = parse_servers_state(gw.command("show servers state checkout"), "checkout")
    return {name: (s.weight, s.state) for name, s in now.items()}


@pytest.fixture
def gw(haproxy_gateway):  # noqa: F811
    return haproxy_gateway("checkout", MAP)


def test_only_changed_servers_get_commands_and_the_state_reads_back(gw):
    api = RuntimeAPI(gw.socket)
    report = haproxy_runtime.apply(api, "checkout", wanted(s1=(100, "active"), s2=(30, "active"),
                                                           s3=(0, "ejected")), dry_run=False)
    assert report.ok
    by = {r.server: r for r in report.results}
    assert by["s1"].action == "unchanged" and by["s1"].commands == ()
    assert by["s2"].action == "applied" and by["s2"].commands == ("set server checkout/s2 weight 30",)
    assert by["s3"].commands == ("set server checkout/s3 state maint", "set server checkout/s3 weight 0")
    assert state(gw) == {"s1": (100, "ready"), "s2": (30, "ready"), "s3": (0, "maint")}
    # a drained one, and the ejected one back
    report = haproxy_runtime.apply(api, "checkout", wanted(s1=(0, "drained"), s2=(30, "active"), s3=(60, "active")),
                                   dry_run=False)
    assert report.ok and [r.action for r in report.results] == ["applied", "unchanged", "applied"]
    assert state(gw) == {"s1": (0, "drain"), "s2": (30, "ready"), "s3": (60, "ready")}


def test_dry_run_changes_nothing(gw):
    before = state(gw)
    report = haproxy_runtime.apply(RuntimeAPI(gw.socket), "checkout", wanted(s1=(10, "active"), s2=(0, "ejected")))
    assert report.dry_run and [r.action for r in report.results] == ["planned", "planned"]
    assert state(gw) == before


def test_a_server_the_backend_lacks_fails_alone(gw):
    rows = [RoutingDecision("checkout", s, AT, w, "active", "closed", "t") for s, w in (("s1", 50), ("s9", 50))]
    report = haproxy_runtime.apply(RuntimeAPI(gw.socket), "checkout",
                                   haproxy.settings("checkout", rows, RenderOptions(
                                       server_map={**MAP, "s9": "127.0.0.1:9009"})), dry_run=False)
    assert not report.ok
    by = {r.server: r for r in report.results}
    assert by["s1"].action == "applied" and by["s9"].action == "failed" and "add it to haproxy.cfg" in by["s9"].message
    assert state(gw)["s1"] == (50, "ready")


def test_a_server_is_found_by_address_too(gw):
    rows = [RoutingDecision("checkout", "127.0.0.1:9002", AT, 7, "active", "closed", "t")]
    report = haproxy_runtime.apply(RuntimeAPI(gw.socket), "checkout",
                                   haproxy.settings("checkout", rows, RenderOptions()), dry_run=False)
    assert report.ok and report.results[0].name == "s2" and state(gw)["s2"] == (7, "ready")


def test_unknown_backend_and_missing_socket_are_fatal(gw, tmp_path):
    with pytest.raises(Fatal, match="no backend 'nope'"):
        haproxy_runtime.apply(RuntimeAPI(gw.socket), "nope", wanted(s1=(1, "active")))
    with pytest.raises(Fatal, match="stats socket .* level admin"):
        RuntimeAPI(str(tmp_path / "none.sock"))


def test_parse_servers_state_reads_admin_bits():
    text = ("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
            "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
            "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port\n"
            "3 b 1 a 10.0.0.1 2 0 100 100 5 1 0 0 0 0 0 0 - 80\n"
            "3 b 2 c 10.0.0.2 0 1 10 100 5 1 0 0 0 0 0 0 - 81\n"
            "3 b 3 d 10.0.0.3 2 8 0 100 5 1 0 0 0 0 0 0 - 82\n")
    got = parse_servers_state(text, "b")
    assert [(s.name, s.address, s.weight, s.state) for s in got.values()] == [
        ("a", "10.0.0.1:80", 100, "ready"), ("c", "10.0.0.2:81", 10, "maint"), ("d", "10.0.0.3:82", 0, "drain")]
