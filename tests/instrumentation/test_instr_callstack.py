"""A slow request gets a call tree (span event `stackeye.callstack`); fast requests get none."""
from __future__ import annotations

import json
import os
import sys
import uuid

import pytest
from stackeye.query.views.callstack_format import parse_frames

APPS = os.path.join(os.path.dirname(__file__), "apps")


def _walk(node, depth=0):
    yield node, depth
    for child in node.get("children", ()):
        yield from _walk(child, depth + 1)


@pytest.mark.slow
def test_slow_endpoint_call_tree(stackeye_up, launch):
    service = f"slow-{uuid.uuid4().hex[:6]}"
    app = launch([sys.executable, os.path.join(APPS, "shop_flask.py")], stackeye_up.otlp_grpc, service,
                 STACKEYE_CALLSTACK_THRESHOLD_MS="300")
    assert app.get("/slow")[0] == 200
    assert app.get("/hello")[0] == 200
    q = f"SELECT count() FROM otel_traces WHERE ServiceName = '{service}' AND SpanKind = 'Server'"
    assert stackeye_up.wait_for_count(q, 2, 60) == 2
    rows = stackeye_up.sql(
        "SELECT SpanAttributes['http.route'] AS route, Duration, `Events.Name` AS names, "
        f"`Events.Attributes` AS attrs FROM otel_traces WHERE ServiceName = '{service}' AND SpanKind = 'Server'")
    by_route = {r["route"]: r for r in rows}
    assert "stackeye.callstack" not in by_route["/hello"]["names"]
    slow = by_route["/slow"]
    doc = json.loads(slow["attrs"][slow["names"].index("stackeye.callstack")]["stackeye.callstack.frames"])
    assert doc["v"] == 1 and doc["samples"] > 10
    root = doc["frames"][0]
    assert root["signature"] == "GET /slow"
    assert abs(root["total_ms"] - int(slow["Duration"]) / 1e6) < 1.0  # the tree covers the whole span

    # shares add up at every node: self + children == total
    for node, _ in _walk(root):
        kids = sum(c["total_ms"] for c in node.get("children", ()))
        assert abs(node["self_ms"] + kids - node["total_ms"]) < 0.01 * max(1.0, len(node.get("children", ())))

    # the view below the handler: the slow functions on top, the slow SQL as a leaf frame
    (handler,) = root["children"]
    assert handler["signature"].startswith("slow (shop_flask.py:")
    top = [c["signature"].split(" ")[0] for c in handler["children"]][:3]
    assert set(top) == {"crunch_numbers", "wait_for_supplier", "load_report"}, handler
    by_self = sorted((n for n, _ in _walk(root)), key=lambda n: -n["self_ms"])
    assert {n["signature"].split(" ")[0] for n in by_self[:3]} == {"crunch_numbers", "wait_for_supplier", "SQL:"}
    report = next(c for c in handler["children"] if c["signature"].startswith("load_report"))
    sql = [n for n, _ in _walk(report) if n.get("kind") == "sql"]
    assert sql and sql[0]["signature"].startswith("SQL: WITH RECURSIVE c(x) AS (SELECT ? UNION ALL SELECT x + ?")
    assert all(n["calls"] == 1 for n in (handler, report, sql[0]))

    # and the query layer reads it
    flat = parse_frames(json.dumps(doc))
    assert flat[0]["signature"] == "GET /slow" and any(f["signature"].startswith("crunch_numbers") for f in flat)
