#!/usr/bin/env python3
"""Does a ``set`` skip index on ``Tenant`` pay for one tenant's reads of ``otel_traces``?

    python bench/tenant_index.py                  # 2,000,000 spans, 20 tenants
    python bench/tenant_index.py --spans 500000   # quicker

Two tables with the real schema (the migrations), one of them with ``INDEX idx_tenant Tenant TYPE
set(0) GRANULARITY 1`` in addition, get the same spans: tenants either with services of their own
(``own``: what teams sharing a stackeye look like) or all with the same service names (``shared``:
the worst case, every granule holds every tenant). A tenant's query runs under
``additional_table_filters`` as the per-tenant connections run it. Reported: granules read (EXPLAIN
indexes), the query's median time over runs, and the insert time of each table.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine, save, table  # noqa: E402

QUERIES = {
    "count": "SELECT count() FROM {t}",
    "red by service": "SELECT ServiceName, count(), quantile(0.95)(Duration) FROM {t} "
                      "WHERE SpanKind = 'Server' GROUP BY ServiceName",
    "one service": "SELECT count() FROM {t} WHERE ServiceName = '{svc}'",
}


def main() -> int:
    import chdb
    from stackeye.storage.migrations import SchemaOptions, load_migrations

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=2_000_000)
    ap.add_argument("--tenants", type=int, default=20)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="stackeye-bench-tenant-")
    conn = chdb.connect(tmp)
    q = lambda sql: conn.query(sql, "CSV").bytes().decode()  # noqa: E731
    rows = []
    try:
        q("CREATE DATABASE b")
        q("USE b")
        traces = next(m for m in load_migrations() if m.name == "otel_traces").statements(SchemaOptions())[0]
        for layout in ("own", "shared"):
            svc = "concat('t', toString(number % {n}), '-svc', toString(intDiv(number, {n}) % 8))" if layout == "own" \
                else "concat('svc', toString(intDiv(number, {n}) % 8))"
            svc = svc.format(n=args.tenants)
            insert_s = {}
            for name, index in (("plain", ""), ("indexed", "INDEX idx_tenant Tenant TYPE set(0) GRANULARITY 1,\n    ")):
                t = f"{layout}_{name}"
                q(traces.replace("CREATE TABLE IF NOT EXISTS otel_traces", f"CREATE TABLE {t}")
                  .replace("INDEX idx_trace_id", index + "INDEX idx_trace_id", 1))
                started = time.perf_counter()
                q(f"INSERT INTO {t} (Timestamp, TraceId, SpanId, SpanName, SpanKind, ServiceName, Duration, Tenant) "
                  f"SELECT now64(9) - toIntervalMillisecond(number), hex(number), hex(number), concat('GET /', toString(number % 30)), "
                  f"if(number % 3 = 0, 'Server', 'Client'), {svc}, number % 100000, "
                  f"concat('t', toString(number % {args.tenants})) FROM numbers({args.spans})")
                insert_s[name] = time.perf_counter() - started
                q(f"OPTIMIZE TABLE {t} FINAL")
            for qname, sql in QUERIES.items():
                row = {"layout": layout, "query": qname}
                for name in ("plain", "indexed"):
                    t = f"{layout}_{name}"
                    text = sql.format(t=t, svc="t3-svc1" if layout == "own" else "svc1")
                    settings = f" SETTINGS additional_table_filters = {{'{t}': 'Tenant = \\'t3\\''}}"
                    plan = q(f"EXPLAIN indexes = 1 {text}{settings}")
                    granules = re.findall(r"Granules: (\d+)/(\d+)", plan.replace('\\"', ""))
                    times = []
                    for _ in range(args.runs):
                        started = time.perf_counter()
                        q(text + settings)
                        times.append((time.perf_counter() - started) * 1000)
                    row[f"{name}_granules"] = granules[-1][0] + "/" + granules[-1][1] if granules else "?"
                    row[f"{name}_ms"] = round(statistics.median(times), 1)
                rows.append(row)
            rows.append({"layout": layout, "query": "insert (s)", "plain_ms": round(insert_s["plain"] * 1000),
                         "indexed_ms": round(insert_s["indexed"] * 1000)})
    finally:
        conn.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(table(rows))
    print("saved", save("tenant_index", {"machine": machine(), "args": vars(args), "results": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
