#!/usr/bin/env python3
"""What confining a query to one tenant costs: the same questions asked by the operator with an
explicit ``WHERE Tenant = 'a'`` and by tenant a's confined connection (``additional_table_filters``
under readonly, plus the parse that judges the query), side by side in one run.

    python bench/tenant_queries.py                  # 2 tenants x 500,000 spans over 24 h
    python bench/tenant_queries.py --spans 200000   # quicker

The data set is ``stackeye demo-data`` loaded twice, once per tenant (the same rows, two tenants:
each tenant's share is half the table). Each query runs ``--runs`` times after a warm-up; the table
reports the medians and the ratio confined / explicit. The views run confined only (their SQL has
no tenant parameter): their time is shown next to the operator's over both tenants for scale.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine, save, table  # noqa: E402
from stackeye.query import demo_data, demo_otlp  # noqa: E402
from stackeye.query.views import registry  # noqa: E402
from stackeye.storage.factory import open_storage  # noqa: E402
from stackeye.storage.tenant_scope import TenantStorage  # noqa: E402

SQL = {
    "count 24h": "SELECT count() FROM otel_traces {where}",
    "RED by service": "SELECT ServiceName, count(), countIf(StatusCode = 'Error'), quantile(0.95)(Duration) "
                      "FROM otel_traces {where} GROUP BY ServiceName ORDER BY 2 DESC LIMIT 20",
    "top routes 1h": "SELECT SpanName, count() FROM otel_traces {where} {and_} Timestamp > now() - INTERVAL 1 HOUR "
                     "GROUP BY SpanName ORDER BY 2 DESC LIMIT 20",
    "rollup RED": "SELECT ServiceName, countMerge(Calls) FROM stackeye_red_1h {where} GROUP BY ServiceName",
}


class _AsTenant:
    """Inserts under a tenant (demo_otlp.load calls insert_otlp(signal, payloads, token))."""

    def __init__(self, storage, tenant):
        self.storage, self.tenant = storage, tenant

    def insert_otlp(self, signal, payloads, token):
        return self.storage.insert_otlp(signal, payloads, f"{self.tenant}-{token}", self.tenant)


def _median_ms(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=500_000, help="spans per tenant")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    path = tempfile.mkdtemp(prefix="stackeye-bench-tenants-")
    storage = open_storage("chdb://" + path)
    storage.migrate()
    end = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    spec = demo_data.DemoSpec(spans=args.spans, services=50, routes=2000, statements=500, hosts=100, hours=24,
                              end=end, batch_size=20_000)
    started = time.monotonic()
    for tenant in ("a", "b"):
        demo_otlp.load(_AsTenant(storage, tenant), spec)
    print(f"loaded 2 x {args.spans:,} spans in {time.monotonic() - started:.0f} s", flush=True)
    confined = TenantStorage(storage, "a")
    rows = []
    for name, sql in SQL.items():
        explicit = sql.format(where="WHERE Tenant = 'a'", and_="AND")
        mine = sql.format(where="", and_="WHERE") if "{and_}" in sql else sql.format(where="", and_="")
        a = storage.query(explicit).rows
        b = confined.query(mine).rows
        assert sorted(map(str, a)) == sorted(map(str, b)), name  # the same answer both ways
        e_ms = _median_ms(lambda: storage.query(explicit), args.runs)
        c_ms = _median_ms(lambda: confined.query(mine), args.runs)
        rows.append({"query": name, "operator WHERE Tenant (ms)": round(e_ms, 1),
                     "tenant a confined (ms)": round(c_ms, 1), "ratio": round(c_ms / e_ms, 2)})
    views = []
    for view in registry.all_views():
        if view.name in ("trace", "callstack"):
            continue
        params = view.parse({"since": "24h"})
        op_ms = _median_ms(lambda: view.run_params(storage, params), args.runs)
        a_ms = _median_ms(lambda: view.run_params(confined, params), args.runs)
        views.append({"view (24 h)": view.name, "operator, both tenants (ms)": round(op_ms, 1),
                      "tenant a confined (ms)": round(a_ms, 1)})
    guard_ms = _median_ms(lambda: storage.query("SELECT 1"), 50)
    print(table(rows))
    print()
    print(table(views))
    print(f"\na trivial query (SELECT 1, parse + judge + run): {guard_ms:.2f} ms")
    out = save("tenant_queries", {"machine": machine(), "spans_per_tenant": args.spans, "sql": rows,
                                  "views": views, "select_1_ms": round(guard_ms, 2)})
    print(f"saved {out}")
    storage.close()
    shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
