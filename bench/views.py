#!/usr/bin/env python3
"""Every query view over 1 hour and 24 hours of data, with and without the rollups.

    python bench/views.py                          # 10,000,000 spans over 24 h (loads once, ~10 min)
    python bench/views.py --spans 1000000          # quicker
    python bench/views.py --reuse                  # time again on the data already loaded

The data set is ``stackeye demo-data`` with the issue's cardinality (50 services, 2,000 routes,
500 SQL statements, 100 hosts), loaded straight into a chDB data directory. Each view runs
``--runs`` times per window after one warm-up; the table reports the median. "raw" is the same
question answered from raw spans only (``use_rollups=False``): views that read rollups show both
and the speed-up; the others read raw tables either way.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine, save, table  # noqa: E402
from stackeye.query import demo_data, demo_otlp  # noqa: E402
from stackeye.query.views import registry, rollups  # noqa: E402
from stackeye.storage.factory import open_storage  # noqa: E402

GOAL_MS, GOAL_SPEEDUP = 300, 10


def load(path: str, spans: int, end: dt.datetime) -> dict:
    if os.path.exists(path):
        shutil.rmtree(path)
    storage = open_storage("chdb://" + path)
    storage.migrate()
    spec = demo_data.DemoSpec(spans=spans, services=50, routes=2000, statements=500, hosts=100, hours=24,
                              end=end, batch_size=20_000)
    started = time.monotonic()
    last = [started]

    def progress(n):
        if time.monotonic() - last[0] > 30:
            last[0] = time.monotonic()
            print(f"  loaded {n:,} spans ({n / (last[0] - started):,.0f}/s)", flush=True)

    n = demo_otlp.load(storage, spec, progress=progress)
    took = time.monotonic() - started
    storage.execute("OPTIMIZE TABLE otel_traces FINAL")  # merged parts, as after a while in production
    for r in rollups.ROLLUPS:
        for grain in ("1m", "1h"):
            storage.execute(f"OPTIMIZE TABLE {r.table(grain)} FINAL")
    storage.close()
    info = {"spans": n, "end": end.isoformat(), "load_s": round(took, 1), "spans_per_s": round(n / took)}
    with open(os.path.join(path, "bench-views.json"), "w") as f:
        json.dump(info, f)
    return info


def ingest_cost(path: str, spans: int = 300_000, reps: int = 3) -> list[dict]:
    """Engine insert time of the same OTLP requests with and without the rollups' materialized
    views (best of ``reps``), per insert size, in scratch databases of the same data directory."""
    from stackeye.core.signals import Signal

    out = []
    for batch in (20_000, 100_000):
        spec = demo_data.DemoSpec(spans=spans, services=50, routes=2000, statements=500, hosts=100, hours=24,
                                  batch_size=batch, logs=False)
        reqs = [r for sig, r in demo_otlp.generate(spec) if sig is Signal.TRACES]
        n = sum(len(ss.spans) for r in reqs for rs in r.resource_spans for ss in rs.scope_spans)
        payloads = [r.SerializeToString() for r in reqs]
        best: dict[str, float] = {}
        for rep in range(reps):
            for label in ("without", "with"):
                db = f"bench_ingest_{label}_{rep}"
                storage = open_storage(f"chdb://{path}?database={db}")
                storage.migrate()
                if label == "without":
                    for r in rollups.ROLLUPS:
                        for grain in ("1m", "1h"):
                            storage.execute(f"DROP VIEW IF EXISTS {r.table(grain)}_mv")
                started = time.perf_counter()
                for i, payload in enumerate(payloads):
                    storage.insert_otlp(Signal.TRACES, [payload], f"cost-{batch}-{i}")
                best[label] = min(best.get(label, 1e9), time.perf_counter() - started)
                storage.execute(f"DROP DATABASE {db}")
                storage.close()
        out.append({"spans_per_insert": batch, "inserts": len(payloads),
                    "without_rollups_spans_per_s": round(n / best["without"]),
                    "with_rollups_spans_per_s": round(n / best["with"]),
                    "us_per_span": round((best["with"] - best["without"]) / n * 1e6, 2),
                    "ms_per_insert": round((best["with"] - best["without"]) / len(payloads) * 1000)})
    return out


def cases(storage, end: dt.datetime) -> list[tuple[str, dict]]:
    svc = storage.query("SELECT ServiceName FROM otel_traces WHERE has(`Events.Name`, 'stackeye.callstack') "
                        "GROUP BY ServiceName ORDER BY count() DESC LIMIT 1").rows[0][0]
    tid = storage.query(f"SELECT TraceId FROM otel_traces WHERE ServiceName = '{svc}' AND ParentSpanId = '' "
                        f"AND Timestamp >= toDateTime('{(end - dt.timedelta(minutes=30)):%Y-%m-%d %H:%M:%S}', 'UTC') "
                        "ORDER BY Duration DESC LIMIT 1").rows[0][0]
    return [
        ("services", {}), ("transactions", {"sort": "time"}), ("external", {"sort": "time"}),
        ("database", {"sort": "time"}), ("servers", {}), ("errors", {}), ("logs", {"severity": "error"}),
        ("trace", {"trace_id": tid}), ("service_map", {}), ("callstack", {"service": svc}), ("gateway", {}),
        ("hosts", {}), ("middleware", {}), ("timeseries", {"of": "services"}),
    ]


def timed(fn, runs: int) -> tuple[float, int]:
    fn()  # warm-up
    times, n = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        n = len(fn().rows)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), n


def bench(path: str, runs: int) -> tuple[list[dict], dict]:
    with open(os.path.join(path, "bench-views.json")) as f:
        info = json.load(f)
    # Query as `since=…` would at 7 minutes before the newest data: a window of whole minutes,
    # not whole hours, so the 1 m rollup serves the ragged ends and the 1 h rollup the middle.
    end = dt.datetime.fromisoformat(info["end"]) - dt.timedelta(minutes=7)
    storage = open_storage("chdb://" + path)
    storage.migrate()  # rollups added since the data was loaded: create and fill them
    for r in rollups.ROLLUPS:
        if storage.query(f"SELECT count() FROM {r.table('1h')}").rows[0][0] == 0:
            print("backfilling", r.name, flush=True)
            for stmt in rollups.backfill_statements(r):
                storage.execute(stmt)
    sizes = {"otel_traces": storage.query("SELECT count() FROM otel_traces").rows[0][0]}
    for r in rollups.ROLLUPS:
        for grain in ("1m", "1h"):
            sizes[r.table(grain)] = storage.query(f"SELECT count() FROM {r.table(grain)}").rows[0][0]
    rows = []
    for name, extra in cases(storage, end):
        view = registry.get(name)
        for label, hours in (("1h", 1), ("24h", 24)):
            kw = {"from": (end - dt.timedelta(hours=hours)).isoformat(), "to": end.isoformat(), **extra}
            if name == "trace":
                kw = extra
            params = view.parse(kw)
            fast, n = timed(lambda: view.run_params(storage, params), runs)
            row = {"view": name, "range": label, "rows": n, "p50_ms": round(fast, 1)}
            if view.uses_rollups:
                raw, _ = timed(lambda: view.run_params(storage, params, use_rollups=False), runs)
                row.update(raw_p50_ms=round(raw, 1), speedup=f"{raw / fast:.1f}x")
            else:
                row.update(raw_p50_ms="same", speedup="-")
            row["goal"] = "ok" if fast <= GOAL_MS else "MISSED"
            rows.append(row)
            print(json.dumps(row), flush=True)
            if name == "trace":
                break
    storage.close()
    return rows, {**info, "table_rows": sizes}


def write_results(rows: list[dict], info: dict, mach: dict, runs: int) -> None:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")
    text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    missed = [f"{r['view']} {r['range']}" for r in rows if r["goal"] != "ok"]
    slow_speedups = [f"{r['view']} {r['range']} ({r['speedup']})" for r in rows
                     if r["speedup"] not in ("-",) and float(r["speedup"][:-1]) < GOAL_SPEEDUP]
    sizes = ", ".join(f"{k} {v:,}" for k, v in info["table_rows"].items())
    cost = info["ingest_cost"]
    section = f"""## Query views

`python bench/views.py --spans {info['spans']}` — {mach['when']}, {mach['cpus']} CPUs (shared; load
{mach['load_1m_at_start']} at start), {mach['memory_gib']} GiB, Python {mach['python']}, chDB embedded.

Data: `stackeye demo-data` with 50 services, 2,000 routes, 500 SQL statements, 100 hosts over 24 h:
{info['spans']:,} spans loaded in {info['load_s']} s ({info['spans_per_s']:,} spans/s, generation in
Python included). Rows: {sizes}.

Windows end 7 minutes before the newest data, on a whole minute (as `since=1h`/`since=24h` do), so
the 1 h rollup serves whole hours and the 1 m rollup the ragged ends. Median of {runs} runs after a warm-up, wall time from Python (SQL plus shaping). `raw` answers the
same question from raw spans only (`use_rollups=False`); views without rollups read raw tables
either way. Goals: ≤ {GOAL_MS} ms over 24 h; ≥ {GOAL_SPEEDUP}× faster than raw where a rollup serves.

```
{table(rows)}
```

Over the goal: {', '.join(missed) or 'none'}. Under {GOAL_SPEEDUP}× speed-up: {', '.join(slow_speedups) or 'none'}.

What the rollups cost at ingest (engine only: the same OTLP requests inserted with and without the
rollups' materialized views, best of 3):

```
{table(cost)}
```

About 2–3 µs of engine time per span (computing the keys and states of 6 rollups and writing a
part to each of their 12 tables), somewhat less per span with larger inserts; it is paid once,
against seconds saved on every dashboard refresh over a day of data.
"""
    pattern = re.compile(r"^## Query views\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda m: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--data-dir", default="/tmp/stackeye-bench-views")
    ap.add_argument("--reuse", action="store_true", help="keep the data already loaded in --data-dir")
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = ap.parse_args()
    path = os.path.abspath(args.data_dir)
    mach = machine()
    if not (args.reuse and os.path.exists(os.path.join(path, "bench-views.json"))):
        end = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
        print("loading", load(path, args.spans, end), flush=True)
    rows, info = bench(path, args.runs)
    info["ingest_cost"] = ingest_cost(path)
    print("ingest cost of the rollups", info["ingest_cost"], flush=True)
    print(table(rows))
    save("views", {"machine": mach, "data": info, "results": rows})
    if not args.no_write:
        write_results(rows, info, mach, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
