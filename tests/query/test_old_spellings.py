"""Rows written by older exporters (SPAN_KIND_SERVER, STATUS_CODE_ERROR) count the same."""
from __future__ import annotations

import datetime as dt

from stackeye.query.views import registry
from support.query_expected import END

START = END - dt.timedelta(hours=1)  # recent: within the tables' retention
WINDOW = {"from": START.isoformat(), "to": END.isoformat()}


def test_old_kind_and_status_spellings(empty_storage):
    st = empty_storage
    values = []
    for i, (kind, status) in enumerate([("SPAN_KIND_SERVER", "STATUS_CODE_ERROR"), ("SPAN_KIND_SERVER", "STATUS_CODE_OK"),
                                        ("Server", "Error"), ("SPAN_KIND_CONSUMER", "STATUS_CODE_UNSET"),
                                        ("SPAN_KIND_CLIENT", "STATUS_CODE_ERROR")]):
        attrs = "{'server.address': 'api.example.com', 'server.port': '443'}" if "CLIENT" in kind else "{}"
        values.append(f"('{START:%Y-%m-%d} {START.hour:02d}:30:{i:02d}', 't{i}', 's{i}', '', 'op', '{kind}', 'legacy', "
                      f"{{'host.name': 'h1'}}, {attrs}, {(i + 1) * 1_000_000}, '{status}')")
    st.execute("INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, "
               "ResourceAttributes, SpanAttributes, Duration, StatusCode) VALUES " + ", ".join(values))
    for use_rollups in (True, False):
        svc = registry.get("services").run(st, use_rollups=use_rollups, **WINDOW).rows
        assert [(r.service, r.calls, r.errors) for r in svc] == [("legacy", 4, 2)]
        ext = registry.get("external").run(st, use_rollups=use_rollups, **WINDOW).rows
        assert [(r.peer, r.calls, r.errors) for r in ext] == [("api.example.com:443", 1, 1)]
