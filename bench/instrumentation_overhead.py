"""Per-request overhead of the instrumentation on a Flask app, driven in-process by its test client.

    python bench/instrumentation_overhead.py                # 3 rounds, 20,000 requests after 2,000 warm-up
    python bench/instrumentation_overhead.py --quick        # 1 round, 4,000 requests (smoke)
    python bench/instrumentation_overhead.py --profile stackeye --route /hello   # pyinstrument, one variant

Routes: ``/hello`` returns a string; ``/db`` runs one SQLite query through a cursor.
Variants, each in a fresh process, alternated within each round (the start rotates per round):

- ``bare``: Flask alone;
- ``stock``: stock OpenTelemetry: Flask + sqlite3 instrumentors, batch processor, dropping exporter;
- ``stackeye``: ``stackeye.instrumentation.init()`` exporting OTLP/gRPC to a local sink process;
- ``stackeye_down``: the same with the agent unreachable (closed port);
- ``nocallstack``: stackeye with call stacks off (what the sampler costs requests that don't trigger it);
- ``setprofile``: stackeye plus a per-request ``sys.setprofile``-style profiler (cProfile, the C
  implementation: the cheapest form of that design) for comparison with the sampler.

Reported per variant and route: median and p99 µs per request, requests/s, added µs vs bare
(median), peak RSS (ru_maxrss), and exit time (from the end of the run to process exit).
Medians over rounds. Then the exit time of an instrumented program with 3,000 spans queued and
the agent down (closed port, and a black hole that accepts and never answers); ``--exit-only``
runs just that. JSON goes to bench/out/instrumentation_overhead.json.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent import futures

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = ["bare", "stock", "stackeye", "stackeye_down", "nocallstack", "setprofile"]
ROUTES = ["/hello", "/db"]


# -- worker: one variant, one route, one process ---------------------------------------------------
def build_app(variant: str, sink: str, dead: str):
    if variant == "stock":
        from opentelemetry import trace
        from opentelemetry.instrumentation.flask import FlaskInstrumentor
        from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )

        class Dropping(SpanExporter):
            def export(self, spans):
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Dropping()))
        trace.set_tracer_provider(provider)
        FlaskInstrumentor().instrument()
        SQLite3Instrumentor().instrument()
    elif variant != "bare":
        import stackeye.instrumentation as se

        se.init(service_name="bench", endpoint=dead if variant == "stackeye_down" else sink,
                callstack=variant != "nocallstack")

    import sqlite3

    from flask import Flask

    app = Flask("bench")
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    cur = conn.cursor()
    cur.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    cur.executemany("INSERT INTO items VALUES (?, ?)", [(i, f"item{i}") for i in range(100)])

    @app.get("/hello")
    def hello():
        return "hello"

    @app.get("/db")
    def db():
        c = conn.cursor()
        c.execute("SELECT name FROM items WHERE id = ?", (42,))
        return c.fetchone()[0]

    return app


def worker(variant: str, route: str, requests: int, warmup: int, sink: str, dead: str) -> None:
    import resource

    app = build_app(variant, sink, dead)
    client = app.test_client()
    prof = None
    if variant == "setprofile":
        import cProfile

        prof = cProfile.Profile()
    for _ in range(warmup):
        assert client.get(route).status_code == 200
    times = []
    clock = time.perf_counter_ns
    t_start = clock()
    if prof is None:
        for _ in range(requests):
            t0 = clock()
            client.get(route)
            times.append(clock() - t0)
    else:
        for _ in range(requests):
            t0 = clock()
            prof.enable()
            client.get(route)
            prof.disable()
            times.append(clock() - t0)
    wall = (clock() - t_start) / 1e9
    times.sort()
    out = {"median_us": times[len(times) // 2] / 1000, "p99_us": times[int(len(times) * 0.99)] / 1000,
           "rps": requests / wall, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if variant.startswith("stackeye") or variant in ("nocallstack", "setprofile"):
        import stackeye.instrumentation as se

        out["stats"] = se.stats()
    print("RESULT " + json.dumps(out), flush=True)


# -- sink: an OTLP/gRPC endpoint that accepts everything (a separate process) -------------------
def sink(port: int) -> None:
    import grpc
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as lpb
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc as lgrpc
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as mpb
    from opentelemetry.proto.collector.metrics.v1 import (
        metrics_service_pb2_grpc as mgrpc,
    )
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as tpb
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as tgrpc

    class T(tgrpc.TraceServiceServicer):
        def Export(self, request, context):
            return tpb.ExportTraceServiceResponse()

    class M(mgrpc.MetricsServiceServicer):
        def Export(self, request, context):
            return mpb.ExportMetricsServiceResponse()

    class L(lgrpc.LogsServiceServicer):
        def Export(self, request, context):
            return lpb.ExportLogsServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(2))
    tgrpc.add_TraceServiceServicer_to_server(T(), server)
    mgrpc.add_MetricsServiceServicer_to_server(M(), server)
    lgrpc.add_LogsServiceServicer_to_server(L(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


# -- exit time with a dead agent -------------------------------------------------------------------
EXIT_CHILD = """
import sys, time, stackeye.instrumentation as se
se.init(service_name="exit-bench", endpoint=sys.argv[1], auto_instrument=False)
from opentelemetry import trace
tracer = trace.get_tracer("bench")
for _ in range(3000):
    with tracer.start_as_current_span("work"):
        pass
se.counter("work_done").add(3000)
time.sleep(1.5)  # let the exporter hit the dead agent (retry/backoff in progress)
print("END", flush=True)
"""


def exit_times() -> dict:
    """Seconds from the end of the program's code to the process being gone, per agent state."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)  # completes TCP handshakes, never answers
    out = {}
    for name, target in (("closed port", f"127.0.0.1:{free_port()}"),
                         ("black hole", f"127.0.0.1:{hole.getsockname()[1]}")):
        proc = subprocess.Popen([sys.executable, "-c", EXIT_CHILD, target], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        proc.stdout.readline()
        t0 = time.monotonic()
        proc.wait()
        out[name] = round(time.monotonic() - t0, 2)
    hole.close()
    return out


# -- driver ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_one(variant, route, args, sink_addr, dead_addr, profile=False) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", variant, "--route", route,
           "--requests", str(args.requests), "--warmup", str(args.warmup), "--sink", sink_addr, "--dead", dead_addr]
    if profile:
        cmd = [sys.executable, "-m", "pyinstrument", "-o", os.path.join(HERE, "out", f"profile-{variant}{route.replace('/', '-')}.txt"),
               *cmd[1:]]
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    result = None
    for line in proc.stdout:
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
            t_end = time.monotonic()
    proc.wait()
    if result is None:
        raise RuntimeError(f"{variant} {route} failed (exit {proc.returncode})")
    result["exit_s"] = time.monotonic() - t_end
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker")
    parser.add_argument("--sink-serve", type=int)
    parser.add_argument("--route", default="/hello")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--warmup", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--quick", action="store_true", help="1 round of 4,000 requests")
    parser.add_argument("--profile", help="run one variant under pyinstrument; text report in bench/out/")
    parser.add_argument("--exit-only", action="store_true", help="only measure exit time with a dead agent")
    parser.add_argument("--sink", default="")
    parser.add_argument("--dead", default="")
    args = parser.parse_args()
    if args.sink_serve:
        return sink(args.sink_serve)
    if args.worker:
        return worker(args.worker, args.route, args.requests, args.warmup, args.sink, args.dead)
    if args.quick:
        args.rounds, args.requests, args.warmup = 1, 4000, 500
    if args.exit_only:
        print("exit after main, 3,000 spans queued:", exit_times())
        return

    sys.path.insert(0, HERE)
    from common import machine, save, table

    sink_port = free_port()
    sink_proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--sink-serve", str(sink_port)])
    sink_addr, dead_addr = f"127.0.0.1:{sink_port}", f"127.0.0.1:{free_port()}"
    time.sleep(1.0)
    try:
        if args.profile:
            os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
            print(run_one(args.profile, args.route, args, sink_addr, dead_addr, profile=True))
            return
        variants = args.variants.split(",")
        runs: dict = {(v, r): [] for v in variants for r in ROUTES}
        for rnd in range(args.rounds):
            order = variants[rnd % len(variants):] + variants[:rnd % len(variants)]
            for route in ROUTES:
                for variant in order:
                    res = run_one(variant, route, args, sink_addr, dead_addr)
                    runs[(variant, route)].append(res)
                    print(f"round {rnd + 1} {route:6} {variant:13} median {res['median_us']:7.1f} us  "
                          f"p99 {res['p99_us']:7.1f} us  rss {res['peak_rss_mib']:5.1f} MiB  exit {res['exit_s']:.2f} s",
                          flush=True)
    finally:
        sink_proc.terminate()
        sink_proc.wait()

    rows = []
    for route in ROUTES:
        bare = statistics.median(r["median_us"] for r in runs[("bare", route)]) if "bare" in variants else None
        for variant in variants:
            rs = runs[(variant, route)]
            med = statistics.median(r["median_us"] for r in rs)
            rows.append({
                "route": route, "variant": variant, "median_us": round(med, 1),
                "p99_us": round(statistics.median(r["p99_us"] for r in rs), 1),
                "req_per_s": round(statistics.median(r["rps"] for r in rs)),
                "added_us": round(med - bare, 1) if bare is not None else "",
                "peak_rss_mib": round(statistics.median(r["peak_rss_mib"] for r in rs), 1),
                "exit_s": round(max(r["exit_s"] for r in rs), 2),
            })
    print()
    print(table(rows))
    exits = exit_times()
    print("\nexit after main with the agent down, 3,000 spans queued (s):", exits)
    doc = {"machine": machine(), "requests": args.requests, "warmup": args.warmup, "rounds": args.rounds,
           "rows": rows, "exit_agent_down_s": exits, "runs": {f"{v} {r}": rs for (v, r), rs in runs.items()}}
    print("\nsaved", save("instrumentation_overhead", doc))


if __name__ == "__main__":
    main()
