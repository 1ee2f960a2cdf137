#!/usr/bin/env python3
"""The HTTP stack: uvicorn + Starlette (this checkout) beside the http.server stack it replaced, in one run.

    python bench/http_stack.py                  # 1,000,000 spans per ingest run, 8 × 40 view requests, 5 rounds
    python bench/http_stack.py --spans 100000 --rounds 1 --profile

The reference is the code at commit 3bb367d (``ThreadingHTTPServer``, a thread per connection): the
bench checks it out with ``git worktree add`` into a temporary directory, installs it into a venv
of its own (pip's cache makes that quick) and runs its ``stackeye up`` side by side with this
checkout's, alternating old/new in each round, on the same machine, data and clients.

(a) OTLP/HTTP ingest: pre-encoded ExportTraceServiceRequests of ``--per-request`` spans (built as
    bench/ingest.py builds them) POSTed from ``--threads`` client threads, each on one keep-alive
    connection, into a fresh ``stackeye up``; spans/s acknowledged and queryable (first send → count()
    reaches N), ack p50/p99, and the server's CPU seconds per 100k spans from the first send until
    queryable (the writer's share is the same code on both sides; the difference is the HTTP stack).
(b) ``GET /api/v1/views/services`` from ``--clients`` concurrent clients (keep-alive) over a fixed
    window of ``stackeye demo-data`` loaded once into one data directory; p50/p99 and requests/s.

Medians over the rounds are printed with the ratios new/old and saved to bench/out/http.json.
``--profile`` then runs the new stack once more under pyinstrument, every thread profiled on its own
(bench/http_profiled.py): per-thread CPU seconds are printed, the profiles land in bench/out/http-profile/.
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))

ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
from common import machine, save, table  # noqa: E402
from ingest import make_requests  # noqa: E402
from support.server import StackeyeServer  # noqa: E402

REF_COMMIT = "3bb367d"
VIEW = "/api/v1/views/services"


# -- the two sides -------------------------------------------------------------------------------
def reference_python(tmp: str) -> str:
    """A venv with stackeye as of REF_COMMIT installed; returns its python."""
    src, venv = os.path.join(tmp, "ref-src"), os.path.join(tmp, "ref-venv")
    subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", src, REF_COMMIT], check=True, capture_output=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        python = os.path.join(venv, "bin", "python")
        subprocess.run([python, "-m", "pip", "install", "-q", src], check=True,
                       stderr=subprocess.PIPE if os.environ.get("BENCH_QUIET_PIP", "1") == "1" else None)
    finally:
        subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", src], check=False, capture_output=True)
    return python


def stack_of(python: str) -> str:
    """Which HTTP server the stackeye under ``python`` runs on (a check that each side is what it claims)."""
    code = ("import inspect, stackeye.core.http as h; src = inspect.getsource(h); "
            "print('http.server' if 'ThreadingHTTPServer' in src else 'uvicorn' if 'http_server' in src else '?')")
    return subprocess.run([python, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def versions(python: str) -> dict:
    code = ("import importlib.metadata as m, json; d = {}\n"
            "for p in ('uvicorn', 'starlette', 'h11', 'httptools', 'uvloop', 'chdb', 'protobuf'):\n"
            "    try: d[p] = m.version(p)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(d))")
    return json.loads(subprocess.run([python, "-c", code], check=True, capture_output=True, text=True).stdout)


# -- workloads -----------------------------------------------------------------------------------
def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * q))] * 1000, 2)


def _cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def run_clients(n: int, work) -> tuple[float, list[float], int]:
    """``work(conn_index)`` in ``n`` threads; returns wall seconds, latencies, distinct connections."""
    latencies: list[float] = []
    sockets: set = set()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def client(i):
        try:
            mine, ports = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            return
        with lock:
            latencies.extend(mine)
            sockets.update(ports)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started, latencies, len(sockets)


def ingest(server: StackeyeServer, requests: list[bytes], total_requests: int, threads: int, per_request: int) -> dict:
    counter = iter(range(total_requests))
    proc = psutil.Process(server.proc.pid)

    def work(i):
        conn = http.client.HTTPConnection("127.0.0.1", server.otlp_http_port, timeout=60)
        mine, ports = [], set()
        for n in counter:
            t0 = time.perf_counter()
            conn.request("POST", "/v1/traces", body=requests[n % len(requests)],
                         headers={"Content-Type": "application/x-protobuf"})
            resp = conn.getresponse()
            body = resp.read()
            mine.append(time.perf_counter() - t0)
            if resp.status != 200:
                raise RuntimeError(f"OTLP/HTTP answered {resp.status}: {body[:200]!r}")
            ports.add((i, conn.sock.getsockname()[1]))
        conn.close()
        return mine, ports

    cpu0, started = _cpu_s(proc), time.perf_counter()
    wall, latencies, connections = run_clients(threads, work)
    cpu_acked = _cpu_s(proc) - cpu0
    spans = total_requests * per_request
    while server.sql("SELECT count() AS n FROM otel_traces")[0]["n"] < spans:
        time.sleep(0.05)
    queryable_s, cpu = time.perf_counter() - started, _cpu_s(proc) - cpu0
    return {"spans_per_s": round(spans / wall), "queryable_spans_per_s": round(spans / queryable_s),
            "ack_p50_ms": _pct(latencies, 0.5), "ack_p99_ms": _pct(latencies, 0.99),
            "server_cpu_s_per_100k_spans": round(cpu / spans * 100_000, 3),
            "cpu_s_per_100k_until_acked": round(cpu_acked / spans * 100_000, 3), "connections": connections}


def views(server: StackeyeServer, query: str, clients: int, per_client: int) -> dict:
    proc = psutil.Process(server.proc.pid)
    path = f"{VIEW}?{query}"

    def get(conn) -> bytes:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{path} answered {resp.status}: {body[:300]!r}")
        return body

    warm = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=60)
    for _ in range(5):
        first = json.loads(get(warm))
    warm.close()

    def work(i):
        conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=60)
        mine, ports = [], set()
        for _ in range(per_client):
            t0 = time.perf_counter()
            get(conn)
            mine.append(time.perf_counter() - t0)
            ports.add((i, conn.sock.getsockname()[1]))
        conn.close()
        return mine, ports

    cpu0 = _cpu_s(proc)
    wall, latencies, connections = run_clients(clients, work)
    cpu = _cpu_s(proc) - cpu0
    n = clients * per_client
    return {"requests_per_s": round(n / wall, 1), "p50_ms": _pct(latencies, 0.5), "p99_ms": _pct(latencies, 0.99),
            "server_cpu_ms_per_request": round(cpu / n * 1000, 2), "connections": connections,
            "rows": first["rows"], "elapsed_ms": first["elapsed_ms"]}


def openapi(server: StackeyeServer) -> dict:
    return json.loads(server.request("GET", "/api/v1/openapi.json")[1])


# -- the run -------------------------------------------------------------------------------------
def load_demo(data_dir: str, spans: int, end: dt.datetime) -> None:
    subprocess.run([sys.executable, "-m", "stackeye.cli.main", "demo-data", "--spans", str(spans), "--hours", "2",
                    "--end", end.isoformat(), "--data-dir", data_dir], check=True, capture_output=True)


def profile(tmp: str, requests, args, views_data: str, view_query: str) -> dict:
    """The new stack once more, every thread under pyinstrument; per-thread CPU seconds by workload."""
    out_root = os.path.join(HERE, "out", "http-profile")
    shutil.rmtree(out_root, ignore_errors=True)
    launcher = [os.path.join(HERE, "http_profiled.py")]
    found = {}
    for workload in ("ingest", "views"):
        out = os.path.join(out_root, workload)
        data = os.path.join(tmp, "profile-up") if workload == "ingest" else views_data
        server = StackeyeServer(data, python=sys.executable, launcher=[*launcher, out]).start()
        try:
            if workload == "ingest":
                ingest(server, requests, max(1, args.spans // args.per_request), args.threads, args.per_request)
            else:
                views(server, view_query, args.clients, args.per_client)
        finally:
            server.stop()
        groups: dict[str, dict] = {}
        with open(os.path.join(out, "threads.jsonl")) as f:
            for line in f:
                doc = json.loads(line)
                name = re.sub(r"[-_ ]?\d+(_\d+)?$", "", doc["thread"])  # "AnyIO worker thread", "ThreadPoolExecutor"
                g = groups.setdefault(name, {"threads": 0, "cpu_s": 0.0})
                g["threads"] += 1
                g["cpu_s"] = round(g["cpu_s"] + doc["cpu_s"], 3)
        found[workload] = dict(sorted(groups.items(), key=lambda kv: -kv[1]["cpu_s"]))
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=1_000_000, help="spans per ingest run (default: 1000000)")
    ap.add_argument("--per-request", type=int, default=500)
    ap.add_argument("--threads", type=int, default=4, help="OTLP/HTTP client threads (default: 4)")
    ap.add_argument("--distinct", type=int, default=64, help="distinct pre-encoded requests, cycled")
    ap.add_argument("--demo-spans", type=int, default=50_000, help="spans of demo data for the view (default: 50000)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent view clients (default: 8)")
    ap.add_argument("--per-client", type=int, default=40, help="view requests per client (default: 40)")
    ap.add_argument("--rounds", type=int, default=5, help="old/new alternations; medians are reported (default: 5)")
    ap.add_argument("--profile", action="store_true", help="then profile the new stack (bench/out/http-profile/)")
    args = ap.parse_args()
    total_requests = max(1, args.spans // args.per_request)
    tmp = tempfile.mkdtemp(prefix="stackeye-bench-http-")
    try:
        print(f"installing the reference (commit {REF_COMMIT}) into a throwaway venv…", flush=True)
        t0 = time.monotonic()
        sides = {"old": reference_python(tmp), "new": sys.executable}
        print(f"  done in {time.monotonic() - t0:.0f} s")
        stacks = {side: stack_of(py) for side, py in sides.items()}
        assert stacks == {"old": "http.server", "new": "uvicorn"}, stacks
        libs = {side: versions(py) for side, py in sides.items()}
        print(f"encoding {args.distinct} distinct requests of {args.per_request} spans…", flush=True)
        requests = make_requests(args.distinct, args.per_request)
        end = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
        views_data = os.path.join(tmp, "views-data")
        print(f"loading {args.demo_spans:,} spans of demo data for {VIEW}…", flush=True)
        load_demo(views_data, args.demo_spans, end)
        view_query = urllib.parse.urlencode({"from": (end - dt.timedelta(hours=2)).isoformat(), "to": end.isoformat()})

        results: dict[str, dict[str, list[dict]]] = {"old": {"ingest": [], "views": []}, "new": {"ingest": [], "views": []}}
        apis = {}
        for r in range(args.rounds):
            for side in (("old", "new") if r % 2 == 0 else ("new", "old")):  # neither always goes first
                python = sides[side]
                print(f"round {r + 1}/{args.rounds}, {side} ({stacks[side]}): ingest {total_requests * args.per_request:,} "
                      f"spans, then {args.clients} × {args.per_client} view requests…", flush=True)
                server = StackeyeServer(os.path.join(tmp, f"up-{side}-{r}"), python=python).start()
                try:
                    results[side]["ingest"].append(ingest(server, requests, total_requests, args.threads, args.per_request))
                finally:
                    server.stop()
                shutil.rmtree(os.path.join(tmp, f"up-{side}-{r}"), ignore_errors=True)
                server = StackeyeServer(views_data, python=python).start()
                try:
                    results[side]["views"].append(views(server, view_query, args.clients, args.per_client))
                    apis[side] = openapi(server)
                finally:
                    server.stop()
        profiled = profile(tmp, requests, args, views_data, view_query) if args.profile else None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def median(side, workload, key):
        return statistics.median(run[key] for run in results[side][workload])

    ingest_keys = ["spans_per_s", "queryable_spans_per_s", "ack_p50_ms", "ack_p99_ms", "server_cpu_s_per_100k_spans"]
    view_keys = ["requests_per_s", "p50_ms", "p99_ms", "server_cpu_ms_per_request"]
    rows = []
    for side in ("old", "new"):
        rows.append({"stack": f"{side}: {stacks[side]}",
                     **{f"ingest {k}": median(side, "ingest", k) for k in ingest_keys},
                     **{f"view {k}": median(side, "views", k) for k in view_keys}})
    ratios = {k: round(median("new", w, k) / median("old", w, k), 3)
              for w, keys in (("ingest", ingest_keys), ("views", view_keys)) for k in keys}
    same_rows = results["old"]["views"][0]["rows"] == results["new"]["views"][0]["rows"]
    same_openapi = apis["old"] == apis["new"]
    keep_alive = {side: [run["connections"] for w in ("ingest", "views") for run in results[side][w]] for side in sides}

    print()
    print(table([{"stack": r["stack"], **{k.split(" ", 1)[1]: r[k] for k in r if k.startswith("ingest ")}} for r in rows]))
    print()
    print(table([{"stack": r["stack"], **{k.split(" ", 1)[1]: r[k] for k in r if k.startswith("view ")}} for r in rows]))
    print("\nnew / old:", ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    print(f"connections per run (keep-alive: one per client): {keep_alive}")
    print(f"same view rows on both: {same_rows}; same openapi.json: {same_openapi}")
    if profiled:
        for workload, groups in profiled.items():
            print(f"\nprofile, {workload}: CPU seconds per thread group of the new stack")
            print(table([{"threads": name, "count": g["threads"], "cpu_s": g["cpu_s"]} for name, g in groups.items()]))
        print(f"profiles: {os.path.join(HERE, 'out', 'http-profile')}/")
    doc = {"machine": {**machine(), "cpu_model": _cpu_model()}, "args": vars(args), "reference_commit": REF_COMMIT,
           "libraries": libs, "results": results, "medians": rows, "ratios_new_over_old": ratios,
           "same_view_rows": same_rows, "same_openapi": same_openapi, "profile_cpu_s": profiled}
    for side in results.values():
        for run in side["views"]:
            run.pop("rows")
    print("saved", save("http", doc))
    return 0


def _cpu_model() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    return next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "?")


if __name__ == "__main__":
    sys.exit(main())
