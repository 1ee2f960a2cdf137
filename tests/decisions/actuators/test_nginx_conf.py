"""The nginx applier against a real nginx in front of two tiny HTTP servers."""
from __future__ import annotations

import datetime as dt
import os

from stackeye.decisions.actuators import nginx_conf
from stackeye.decisions.gateways import nginx
from stackeye.decisions.gateways.targets import RenderOptions
from stackeye.decisions.model import RoutingDecision
from support.gateways import backends, get, nginx_gateway  # noqa: F401 (fixtures)
from support.wait import wait_until

AT = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)


def rendering(b0, b1, down1: bool):
    rows = [RoutingDecision("checkout", b0.address, AT, 100, "active", "closed", "t"),
            RoutingDecision("checkout", b1.address, AT, 0 if down1 else 100, "ejected" if down1 else "active",
                            "closed", "t")]
    return nginx.render("checkout", rows, RenderOptions())


def test_apply_rewrites_tests_and_reloads_so_a_down_server_gets_nothing(backends, nginx_gateway):  # noqa: F811
    b0, b1 = backends(2)
    gw = nginx_gateway("checkout", rendering(b0, b1, down1=False))
    target = nginx_conf.Nginx(main_conf=gw.main_conf, prefix=gw.root)
    wait_until(lambda: {get(gw.url) for _ in range(4)} == {"b0", "b1"}, timeout=10, message="both serve")

    new = rendering(b0, b1, down1=True)
    planned = nginx_conf.apply(new, gw.upstream_conf, target)  # dry-run by default
    assert planned.action == "planned" and "-    server" in planned.diff and "down;" in planned.diff
    assert open(gw.upstream_conf).read() != new

    old_workers = gw.workers()
    report = nginx_conf.apply(new, gw.upstream_conf, target, dry_run=False)
    assert report.ok and report.action == "reloaded", report.message
    assert open(gw.upstream_conf).read() == new and os.path.exists(gw.upstream_conf + ".last-good")
    # the old workers finish and exit (until then one may still take a connection); then every request goes to b0
    wait_until(lambda: not (gw.workers() & old_workers), timeout=15, message="the old nginx workers did not exit")
    wait_until(lambda: {get(gw.url) for _ in range(6)} == {"b0"}, timeout=15, message="b1 still served")
    hits = b1.hits
    assert {get(gw.url) for _ in range(10)} == {"b0"} and b1.hits == hits

    again = nginx_conf.apply(new, gw.upstream_conf, target, dry_run=False)
    assert again.action == "unchanged"


def test_a_rendering_nginx_refuses_is_rolled_back(backends, nginx_gateway):  # noqa: F811
    b0, b1 = backends(2)
    good = rendering(b0, b1, down1=False)
    gw = nginx_gateway("checkout", good)
    target = nginx_conf.Nginx(main_conf=gw.main_conf, prefix=gw.root)
    bad = good.replace("weight=100", "weight=abc", 1)
    report = nginx_conf.apply(bad, gw.upstream_conf, target, dry_run=False)
    assert not report.ok and report.action == "rolled_back"
    assert "nginx -t refused" in report.message and "weight=abc" in report.message and "last good" in report.message
    assert open(gw.upstream_conf).read() == good
    assert {get(gw.url) for _ in range(4)} == {"b0", "b1"}  # still serving the good one
