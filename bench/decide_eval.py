#!/usr/bin/env python3
"""One full decision evaluation for 50 services × 20 replicas: the queries and the policies.

    python bench/decide_eval.py                     # 50 services × 20 replicas, median of 15
    python bench/decide_eval.py --services 10 --runs 5

The data: for each replica, ``--spans`` SERVER spans in the minute before the evaluated instant
and a ``process.cpu.utilization`` reading, plus a week of hourly traffic (the forecast's history),
inserted through the real OTLP path into a fresh chDB database. What is timed, after one warm-up:

- **autoscale, every service** — :meth:`Evaluator.autoscale` with an ``[autoscale.<service>]``
  table per service, stored (``persist=True``, as the scheduler runs it): the input statements,
  the states, 50 ``decide`` calls, one INSERT;
- **routing, one upstream** of 20 replicas (source ``instances``), stored;
- **reference**: the ``services`` view's query over the same window (the API's most common
  question, one statement over the same rollups).

Goal: the autoscale evaluation ≤ 500 ms. A table goes to stdout, JSON to bench/out/decide_eval.json.
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
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from stackeye.core.signals import Signal  # noqa: E402
from stackeye.decisions import policy_file  # noqa: E402
from stackeye.decisions.evaluate import Evaluator  # noqa: E402
from stackeye.query.views import registry as views  # noqa: E402
from stackeye.storage.factory import open_storage  # noqa: E402

GOAL_MS = 500
UTC = dt.timezone.utc


def _attr(repeated, key, value):
    kv = repeated.add(key=key)
    if isinstance(value, float):
        kv.value.double_value = value
    elif isinstance(value, int):
        kv.value.int_value = value
    else:
        kv.value.string_value = value


def _replica_requests(service: str, instance: str, host: str, at: dt.datetime, spans: int, cpu: float):
    trace = ExportTraceServiceRequest()
    rs = trace.resource_spans.add()
    for k, v in (("service.name", service), ("service.instance.id", instance), ("host.name", host)):
        _attr(rs.resource.attributes, k, v)
    ss = rs.scope_spans.add()
    start = int((at - dt.timedelta(seconds=60)).timestamp() * 1e9)
    for i in range(spans):
        s = ss.spans.add()
        s.trace_id, s.span_id = os.urandom(16), os.urandom(8)
        s.name, s.kind = "GET /work", 2
        s.start_time_unix_nano = start + int(i * 59e9 / spans)
        s.end_time_unix_nano = s.start_time_unix_nano + int((5 + (i * 7) % 95) * 1e6)
        _attr(s.attributes, "http.response.status_code", 500 if i % 50 == 0 else 200)
    metrics = ExportMetricsServiceRequest()
    rm = metrics.resource_metrics.add()
    for k, v in (("service.name", service), ("service.instance.id", instance), ("host.name", host)):
        _attr(rm.resource.attributes, k, v)
    m = rm.scope_metrics.add().metrics.add()
    m.name = "process.cpu.utilization"
    for j in range(4):
        p = m.gauge.data_points.add()
        p.time_unix_nano = start + int((j * 15 + 5) * 1e9)
        p.as_double = cpu
    return trace, metrics


def _history(service: str, at: dt.datetime, days: int = 7):
    """One span per hour and replica-group over the previous days, so every hour bucket exists."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    _attr(rs.resource.attributes, "service.name", service)
    ss = rs.scope_spans.add()
    for h in range(1, days * 24 + 2):
        s = ss.spans.add()
        s.trace_id, s.span_id = os.urandom(16), os.urandom(8)
        s.name, s.kind = "GET /work", 2
        s.start_time_unix_nano = int((at - dt.timedelta(hours=h)).timestamp() * 1e9)
        s.end_time_unix_nano = s.start_time_unix_nano + 10_000_000
    return req


def load(storage, services: int, replicas: int, spans: int, at: dt.datetime) -> int:
    n = 0
    for si in range(services):
        name = f"svc-{si:02d}"
        traces, metrics = [], []
        for ri in range(replicas):
            t, m = _replica_requests(name, f"{name}-{ri:02d}", f"host-{ri % 10}", at, spans, 0.3 + (si % 7) / 10)
            traces.append(t.SerializeToString())
            metrics.append(m.SerializeToString())
            n += spans
        traces.append(_history(name, at).SerializeToString())
        storage.insert_otlp(Signal.TRACES, traces, f"bench-decide-t-{si}")
        storage.insert_otlp(Signal.METRICS, metrics, f"bench-decide-m-{si}")
    return n


def timed(fn, runs: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--replicas", type=int, default=20)
    ap.add_argument("--spans", type=int, default=30, help="SERVER spans per replica in the window (default 30)")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()

    at = dt.datetime.now(UTC).replace(second=30, microsecond=0)
    folder = tempfile.mkdtemp(prefix="bench-decide-")
    storage = open_storage("chdb://" + os.path.join(folder, "clickhouse"))
    try:
        storage.migrate()
        started = time.monotonic()
        spans = load(storage, args.services, args.replicas, args.spans, at)
        load_s = time.monotonic() - started
        names = [f"svc-{i:02d}" for i in range(args.services)]
        doc = {"autoscale": {n: {} for n in names}, "routing": {names[0]: {}}}
        evaluator = Evaluator(storage, policy_file.from_mapping_doc(doc))
        step = [0]

        def autoscale():
            step[0] += 1  # each stored evaluation one millisecond after the previous
            rows = evaluator.autoscale(at=at + dt.timedelta(milliseconds=step[0]))
            assert len(rows) == args.services and rows[0].current_replicas == args.replicas, rows[0]

        def routing():
            step[0] += 1
            rows = evaluator.routing(names[0], at=at + dt.timedelta(milliseconds=step[0]))
            assert len(rows) == args.replicas

        services_view = views.get("services")
        window = {"from": (at - dt.timedelta(seconds=60)).isoformat(), "to": at.isoformat(), "limit": 1000}

        def reference():
            assert len(services_view.run(storage, **window).rows) == args.services

        results = {}
        for name, fn in (("autoscale, every service (stored)", autoscale), ("routing, one upstream (stored)", routing),
                         ("reference: services view, same window", reference)):
            ms = timed(fn, args.runs)
            results[name] = {"median_ms": round(statistics.median(ms), 1), "min_ms": round(min(ms), 1),
                             "max_ms": round(max(ms), 1)}
        # where the autoscale time goes: the input statements alone
        from stackeye.decisions import inputs
        from stackeye.query.views.params import Window
        w = Window(at - dt.timedelta(seconds=60), at)
        ms = timed(lambda: inputs.service_loads(storage, w, names), args.runs)
        results["  of which: inputs (RED, CPU, history)"] = {"median_ms": round(statistics.median(ms), 1),
                                                             "min_ms": round(min(ms), 1), "max_ms": round(max(ms), 1)}
    finally:
        storage.close()
        shutil.rmtree(folder, ignore_errors=True)

    rows = [{"what": k, **v} for k, v in results.items()]
    print(f"{args.services} services × {args.replicas} replicas, {spans:,} spans in the window, "
          f"loaded in {load_s:.1f} s; median of {args.runs}")
    print(table(rows))
    auto = results["autoscale, every service (stored)"]["median_ms"]
    print(f"goal ≤ {GOAL_MS} ms: {'met' if auto <= GOAL_MS else 'NOT met'} ({auto} ms)")
    path = save("decide_eval", {"machine": machine(), "args": vars(args), "spans": spans, "results": results,
                                "goal_ms": GOAL_MS})
    print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
