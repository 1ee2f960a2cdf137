"""stackeye decide routing --render and stackeye decide apply routing|autoscale, end to end: decisions
from stored spans (the policy test doubles), applied to a real nginx, a real HAProxy, a command."""
from __future__ import annotations

import datetime as dt
import json
import sys

import pytest
from stackeye.cli.main import main
from support.decision_data import gauge, insert, spans
from support.fake_registry import fake_policies  # noqa: F401 (fixture)
from support.gateways import backends, get, haproxy_gateway, nginx_gateway  # noqa: F401 (fixtures)
from support.wait import wait_until

AT = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)
WHEN = ["--at", "2026-12-01T09:00:00Z"]


@pytest.fixture
def data(chdb_storage):
    """checkout: r0 healthy, r1 failing its last 5 requests (the routing double ejects it); 90 % CPU."""
    storage = chdb_storage()
    start = AT - dt.timedelta(seconds=20)
    insert(storage, spans("checkout", "r0", start, [10] * 5, host="h0"),
           spans("checkout", "r1", start, [10] * 5, host="h1", status=[500] * 5))
    for i in range(2):
        insert(storage, gauge("checkout", f"r{i}", "process.cpu.utilization", [(AT - dt.timedelta(seconds=10), 0.9)]))
    return ["--clickhouse", f"chdb://{storage.url.path}?database={storage.url.database}", *WHEN]


def test_render_prints_the_gateway_config(data, capsys, fake_policies):  # noqa: F811
    args = ["decide", "routing", "--upstream", "checkout", *data]
    assert main(args + ["--render", "nginx"]) == 2
    assert "--server-map r0=HOST:PORT" in capsys.readouterr().err
    mapped = args + ["--server-map", "r0=10.0.0.1:80", "--server-map", "r1=10.0.0.2:80"]
    assert main(mapped + ["--render", "nginx"]) == 0
    out = capsys.readouterr().out
    assert "server 10.0.0.1:80 weight=100;  # r0" in out and "server 10.0.0.2:80 down;  # r1" in out
    assert main(mapped + ["--render", "envoy"]) == 0
    eps = json.loads(capsys.readouterr().out)["endpoints"][0]["lb_endpoints"]
    assert [e["health_status"] for e in eps] == ["HEALTHY", "UNHEALTHY"]
    assert main(mapped + ["--render", "haproxy", "--render-output", "commands"]) == 0
    assert "set server checkout/r1 state maint" in capsys.readouterr().out


def test_apply_to_nginx_dry_run_then_apply(data, capsys, backends, nginx_gateway, fake_policies):  # noqa: F811
    b0, b1 = backends(2)
    gw = nginx_gateway("checkout", f"upstream checkout {{ server {b0.address}; server {b1.address}; }}\n")
    before = open(gw.upstream_conf).read()
    args = ["decide", "apply", "routing", "--upstream", "checkout", "--nginx-conf", gw.upstream_conf,
            "--nginx-main-conf", gw.main_conf, "--nginx-prefix", gw.root,
            "--server-map", f"r0={b0.address}", "--server-map", f"r1={b1.address}", *data]
    assert main(args + ["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert ": planned: dry-run" in out and f"+    server {b1.address} down;" in out
    assert open(gw.upstream_conf).read() == before
    assert main(args + ["--apply"]) == 0
    assert ": reloaded:" in capsys.readouterr().out
    wait_until(lambda: {get(gw.url) for _ in range(6)} == {"b0"}, timeout=15, message="r1 is still served")
    assert main(args + ["--apply"]) == 0 and ": unchanged:" in capsys.readouterr().out


def test_apply_to_haproxy(data, capsys, haproxy_gateway, fake_policies):  # noqa: F811
    gw = haproxy_gateway("checkout", {"r0": "127.0.0.1:9001", "r1": "127.0.0.1:9002", "r2": "127.0.0.1:9003"})
    args = ["decide", "apply", "routing", "--upstream", "checkout", "--haproxy-socket", gw.socket, *data]
    assert main(args + ["--format", "json"]) == 0  # dry-run: the plan only
    plan = {r["server"]: r for r in json.loads(capsys.readouterr().out)}
    assert plan["r0"]["action"] == "unchanged" and plan["r1"]["action"] == "planned"
    assert "state MAINT" not in gw.command("show servers state checkout")
    assert main(args + ["--apply", "--format", "json"]) == 0
    done = {r["server"]: r for r in json.loads(capsys.readouterr().out)}
    assert done["r1"]["action"] == "applied" and done["r1"]["commands"] == \
        "set server checkout/r1 state maint; set server checkout/r1 weight 0"
    rows = {ln.split()[3]: ln.split() for ln in gw.command("show servers state checkout").splitlines()[2:] if ln}
    assert (rows["r1"][6], rows["r1"][7]) == ("1", "0") and rows["r2"][6] == "0"  # maint, weight 0; r2 untouched


def test_apply_to_haproxy_fails_for_servers_it_lacks(data, capsys, haproxy_gateway, fake_policies):  # noqa: F811
    gw = haproxy_gateway("checkout", {"r0": "127.0.0.1:9001"})
    assert main(["decide", "apply", "routing", "--upstream", "checkout", "--haproxy-socket", gw.socket, "--apply",
                 *data]) == 1
    captured = capsys.readouterr()
    assert "not applied to r1 of backend checkout" in captured.err and "add it to haproxy.cfg" in captured.out


def test_apply_autoscale_exec(data, tmp_path, capsys, fake_policies):  # noqa: F811
    log = tmp_path / "calls"
    template = f"{sys.executable} -c 'import sys; open(sys.argv[1], \"a\").write(\" \".join(sys.argv[2:]))' " \
               f"{log} {{service}} {{desired}}"
    args = ["decide", "apply", "autoscale", "--exec", template, *data]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "planned" in out and "checkout 3" in out and not log.exists()
    assert main(args + ["--apply"]) == 0
    assert log.read_text() == "checkout 3"
    assert main(["decide", "apply", "autoscale", "--exec", "scale {svc}", *data]) == 2
    assert "unknown field {svc}" in capsys.readouterr().err


def test_dry_run_and_apply_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["decide", "apply", "autoscale", "--exec", "x", "--dry-run", "--apply"])
    assert exc.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_every_needs_a_positive_duration(capsys):
    base = ["decide", "apply", "routing", "--upstream", "checkout", "--haproxy-socket", "/nonexistent/admin.sock"]
    assert main(base + ["--every", "0s"]) == 2
    assert "--every: must be more than 0" in capsys.readouterr().err
    assert main(base + ["--every", "soon"]) == 2
    assert "--every: expected" in capsys.readouterr().err
    assert main(base + ["--every", "5s", "--at=-1h"]) == 2
    assert "drop --at" in capsys.readouterr().err


def test_every_exits_2_when_its_first_round_cannot_ever_work(data, capsys, fake_policies):  # noqa: F811
    # (the loop itself, SIGTERM and the change log: tests/e2e/test_routing_loop_*.py)
    args = ["decide", "apply", "routing", "--upstream", "checkout", "--haproxy-socket", "/nonexistent/admin.sock",
            "--every", "1s", "--apply", *data[:2]]  # (data[2:] is an --at, which --every refuses)
    assert main(args) == 2
    assert "no HAProxy admin socket at /nonexistent/admin.sock" in capsys.readouterr().err
