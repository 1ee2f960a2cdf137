"""tests/query: a real ``stackeye up`` holding the demo data set, sent by ``stackeye demo-data``
over OTLP/gRPC, and how to ask its views over HTTP."""
from __future__ import annotations

import datetime as dt
import json
import urllib.parse

from stackeye.cli.main import main
from stackeye.query.views import registry

from support.wait import wait_until

from . import query_expected
from .server import StackeyeServer


def iso(t: dt.datetime, fmt: str = "%Y-%m-%dT%H:%M:%SZ") -> str:
    return t.astimezone(dt.timezone.utc).strftime(fmt)


END_AT = query_expected.END  # a whole hour a day ago (within the tables' retention)
END = iso(END_AT)
WINDOW = {"from": iso(END_AT - dt.timedelta(hours=2)), "to": iso(END_AT + dt.timedelta(minutes=5))}  # every span
SPANS = 3000


def start_demo_up(data_dir: str, extra_args: list[str] | None = None) -> StackeyeServer:
    """A started server with the demo data written (traces, logs and metrics all queryable)."""
    srv = StackeyeServer(data_dir, extra_args).start()
    try:
        assert main(["demo-data", "--spans", str(SPANS), "--end", END, "--otlp", srv.otlp_grpc]) == 0
        def written() -> bool:
            counts = srv.sql("SELECT (SELECT count() FROM otel_traces) AS t, (SELECT count() FROM otel_logs) AS l, "
                             "(SELECT count() FROM otel_metrics_gauge) AS m")[0]
            return counts["t"] >= SPANS and counts["m"] > 0 and counts["l"] > 0

        wait_until(written, timeout=60, interval=0.3, required=False)
        rows = srv.sql("SELECT count() AS n FROM otel_traces")
        assert rows[0]["n"] >= SPANS
    except BaseException:
        srv.stop()
        raise
    return srv


def http_view(server: StackeyeServer, name: str, params: dict) -> tuple[int, dict]:
    status, body = server.request("GET", f"/api/v1/views/{name}?{urllib.parse.urlencode(params)}")
    return status, json.loads(body)


def view_params(server: StackeyeServer, name: str) -> dict:
    """Parameters with which view ``name`` has rows on the demo data."""
    if name == "trace":
        tid = server.sql("SELECT TraceId FROM otel_traces ORDER BY Duration DESC, TraceId LIMIT 1")[0]["TraceId"]
        return {"trace_id": tid}
    if name == "callstack":
        svc = server.sql("SELECT ServiceName FROM otel_traces WHERE has(`Events.Name`, 'stackeye.callstack') "
                         "ORDER BY ServiceName LIMIT 1")[0]["ServiceName"]
        return {**WINDOW, "service": svc}
    return {**WINDOW, **({"limit": 1000} if any(p.name == "limit" for p in registry.get(name).params) else {})}
