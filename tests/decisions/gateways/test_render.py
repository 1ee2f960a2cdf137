"""The renderers: what each gateway gets from the same decisions, and the real binaries accept it."""
from __future__ import annotations

import datetime as dt
import json
import subprocess

import pytest
from stackeye.decisions import codec, gateways
from stackeye.decisions.gateways import RenderError, RenderOptions
from stackeye.decisions.model import RoutingDecision
from support.gateways import HAPROXY, NGINX, _need, nginx_main_conf

AT = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)


def d(server, weight=100, state="active", breaker="closed", upstream="checkout"):
    return RoutingDecision(upstream, server, AT, weight, state, breaker, "test")


DECISIONS = [d("10.0.0.1:8080"), d("10.0.0.2:8080", 40), d("10.0.0.3:8080", 0, "ejected"),
             d("10.0.0.4:8080", 0, "drained"), d("10.0.0.5:8080", 0, breaker="open"),
             d("10.0.0.6:8080", 10, breaker="half_open"), d("10.0.0.9:8080", upstream="other")]


def test_every_registered_renderer_renders_and_is_pure():
    for name in gateways.RENDERERS:
        text = gateways.render(name, "checkout", DECISIONS)
        assert text == gateways.render(name, "checkout", [codec.encode(x) for x in DECISIONS])  # rows or values
        assert "10.0.0.9" not in text  # another upstream's decision


def test_nginx_marks_every_server_that_takes_no_traffic_down():
    lines = [ln.strip() for ln in gateways.render("nginx", "checkout", DECISIONS).splitlines()]
    assert lines[1:] == ["upstream checkout {", "server 10.0.0.1:8080 weight=100;", "server 10.0.0.2:8080 weight=40;",
                         "server 10.0.0.3:8080 down;", "server 10.0.0.4:8080 down;", "server 10.0.0.5:8080 down;",
                         "server 10.0.0.6:8080 weight=10;", "}"]


def test_haproxy_backend_and_runtime_commands():
    text = gateways.render("haproxy", "checkout", DECISIONS, RenderOptions(backend="be_checkout"))
    assert text.splitlines() == [
        "backend be_checkout",
        "    server 10.0.0.1_8080 10.0.0.1:8080 weight 100",
        "    server 10.0.0.2_8080 10.0.0.2:8080 weight 40",
        "    server 10.0.0.3_8080 10.0.0.3:8080 weight 0 disabled",
        "    server 10.0.0.4_8080 10.0.0.4:8080 weight 0",
        "    server 10.0.0.5_8080 10.0.0.5:8080 weight 0 disabled",
        "    server 10.0.0.6_8080 10.0.0.6:8080 weight 10"]
    cmds = gateways.render("haproxy", "checkout", DECISIONS[:4], RenderOptions(output="commands")).splitlines()
    assert cmds == ["set server checkout/10.0.0.1_8080 weight 100", "set server checkout/10.0.0.1_8080 state ready",
                    "set server checkout/10.0.0.2_8080 weight 40", "set server checkout/10.0.0.2_8080 state ready",
                    "set server checkout/10.0.0.3_8080 state maint", "set server checkout/10.0.0.3_8080 weight 0",
                    "set server checkout/10.0.0.4_8080 state drain", "set server checkout/10.0.0.4_8080 weight 0"]


def test_haproxy_weights_above_256_are_scaled():
    text = gateways.render("haproxy", "u", [d("a:1", 1000, upstream="u"), d("b:1", 500, upstream="u")])
    assert "weight 256" in text and "weight 128" in text


def test_envoy_cluster_load_assignment():
    value = json.loads(gateways.render("envoy", "checkout", DECISIONS))
    assert value["cluster_name"] == "checkout"
    eps = value["endpoints"][0]["lb_endpoints"]
    got = [(e["endpoint"]["address"]["socket_address"]["address"], e["endpoint"]["address"]["socket_address"]
            ["port_value"], e["load_balancing_weight"], e["health_status"]) for e in eps]
    assert got == [("10.0.0.1", 8080, 100, "HEALTHY"), ("10.0.0.2", 8080, 40, "HEALTHY"),
                   ("10.0.0.3", 8080, 1, "UNHEALTHY"), ("10.0.0.4", 8080, 1, "DRAINING"),
                   ("10.0.0.5", 8080, 1, "UNHEALTHY"), ("10.0.0.6", 8080, 10, "HEALTHY")]


def test_easegress_pool_holds_the_servers_that_take_traffic():
    value = json.loads(gateways.render("easegress", "checkout", DECISIONS, RenderOptions(output="json")))
    assert value["kind"] == "Proxy" and value["pools"][0]["servers"] == [
        {"url": "http://10.0.0.1:8080", "weight": 100}, {"url": "http://10.0.0.2:8080", "weight": 40},
        {"url": "http://10.0.0.6:8080", "weight": 10}]
    yaml = gateways.render("easegress", "checkout", DECISIONS)
    assert '      - url: "http://10.0.0.2:8080"\n        weight: 40\n' in yaml
    with pytest.raises(RenderError, match="empty Easegress pool"):
        gateways.render("easegress", "checkout", DECISIONS[2:5])


def test_instance_ids_need_a_server_map():
    rows = [d("r0"), d("r1", 0, "ejected")]
    with pytest.raises(RenderError, match="--server-map r0=HOST:PORT"):
        gateways.render("nginx", "checkout", rows)
    text = gateways.render("nginx", "checkout", rows, RenderOptions(server_map=gateways.targets.parse_server_map(
        ["r1=10.0.0.2:80"], '"r0" = "10.0.0.1:80"\n')))
    assert "server 10.0.0.1:80 weight=100;  # r0" in text and "server 10.0.0.2:80 down;  # r1" in text
    with pytest.raises(RenderError, match="expected SERVER=HOST:PORT"):
        gateways.targets.parse_server_map(["r0"])
    with pytest.raises(RenderError, match="address 'nowhere'"):
        gateways.render("nginx", "checkout", rows, RenderOptions(server_map={"r0": "nowhere", "r1": "a:1"}))


def test_nothing_to_render_and_unknown_gateway():
    with pytest.raises(RenderError, match="no routing decisions for upstream 'payments'"):
        gateways.render("nginx", "payments", DECISIONS)
    with pytest.raises(RenderError, match="choose one of: nginx, haproxy, envoy, easegress"):
        gateways.render("traefik", "checkout", DECISIONS)


def test_nginx_t_accepts_the_rendering(tmp_path):
    _need(NGINX)
    (tmp_path / "tmp").mkdir()
    (tmp_path / "up.conf").write_text(gateways.render("nginx", "checkout", DECISIONS))
    (tmp_path / "nginx.conf").write_text(nginx_main_conf(str(tmp_path), str(tmp_path / "up.conf"), 8080, "checkout"))
    check = subprocess.run([NGINX, "-e", "stderr", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_haproxy_c_accepts_the_rendering(tmp_path):
    _need(HAPROXY)
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"
                   "frontend fe\n    bind 127.0.0.1:8080\n    default_backend checkout\n"
                   + gateways.render("haproxy", "checkout", DECISIONS))
    check = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

