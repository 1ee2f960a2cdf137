#!/usr/bin/env python3
"""The host agent's footprint and its relay's throughput.

    python bench/agent.py                        # 5 minutes of footprint, then 200,000 relayed spans
    python bench/agent.py --duration 60          # quicker footprint run
    python bench/agent.py --skip-footprint       # relay only

Footprint: ``stackeye agent`` with its defaults (every host collector, 10 s interval, the local
relay listening, the agent protocol on) shipping into a real ``stackeye up``, side by side with
the floor: a bare Python process that only imports psutil, grpc and protobuf. After a warm-up
(start-up and the first samples are not steady state) CPU is the process's user+system time over
the measured window, as % of one core; peak RSS is the kernel's high-water mark (VmHWM).

Relay: client threads send pre-encoded OTLP trace requests (512 spans each) to the agent's relay;
"accepted" is spans/s the relay acknowledged (enriched and on the agent's disk queue), "forwarded"
is spans/s until the agent's disk queue is empty again, i.e. every request acknowledged by the
collector.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import grpc
import psutil

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine, save, table  # noqa: E402
from support.server import StackeyeServer  # noqa: E402
from support.services import free_port, port_open  # noqa: E402

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
GOAL_CPU_PCT, GOAL_RSS_MB, GOAL_SPANS_S = 0.3, 60, 50_000


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return psutil.Process(pid).memory_info().rss / 2**20


def cpu_seconds(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def agent_cmd(collector: str, state_dir: str, relay: str, interval: str = "10s") -> list[str]:
    return [sys.executable, "-m", "stackeye.cli.main", "--log-level", "warning", "agent", "--collector", collector,
            "--state-dir", state_dir, "--otlp-listen", relay, "--interval", interval]


def footprint(server: StackeyeServer, work: str, duration: float, warmup: float) -> list[dict]:
    floor = subprocess.Popen([sys.executable, "-c", "import psutil, grpc, google.protobuf, time; time.sleep(1e6)"])
    agent = subprocess.Popen(agent_cmd(server.otlp_grpc, os.path.join(work, "agent-state"),
                                       f"127.0.0.1:{free_port()}"), stderr=open(os.path.join(work, "agent.log"), "wb"))
    try:
        time.sleep(warmup)
        start = {p.pid: cpu_seconds(p.pid) for p in (agent, floor)}
        t0 = time.monotonic()
        time.sleep(duration)
        elapsed = time.monotonic() - t0
        rows = []
        for name, p in (("stackeye agent (defaults)", agent), ("floor: python + psutil + grpc + protobuf", floor)):
            used = cpu_seconds(p.pid) - start[p.pid]
            rows.append({"process": name, "window_s": round(elapsed), "cpu_s": round(used, 3),
                         "cpu_pct_of_core": round(100 * used / elapsed, 3), "peak_rss_mb": round(peak_rss_mb(p.pid), 1)})
        samples = server.sql("SELECT count() AS n FROM otel_metrics_gauge WHERE MetricName = 'system.cpu.load_average.1m'")
        rows[0]["samples_stored"] = samples[0]["n"]
        rows[1]["samples_stored"] = ""
        return rows
    finally:
        for p in (agent, floor):
            p.terminate()
            p.wait(30)


def make_requests(total_spans: int, per_request: int) -> list[bytes]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    out, now, n = [], time.time_ns(), 0
    while n < total_spans:
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", "relay-bench"
        ss = rs.scope_spans.add()
        ss.scope.name = "bench"
        for i in range(min(per_request, total_spans - n)):
            s = ss.spans.add()
            s.trace_id = os.urandom(16)
            s.span_id = os.urandom(8)
            s.name = f"GET /api/items/{i % 50}"
            s.kind = 2
            s.start_time_unix_nano = now
            s.end_time_unix_nano = now + 1_000_000
            a = s.attributes.add()
            a.key, a.value.string_value = "http.route", f"/api/items/{i % 50}"
        n += len(ss.spans)
        out.append(req.SerializeToString())
    return out


def relay(server: StackeyeServer, work: str, spans: int, per_request: int, threads: int) -> dict:
    state = os.path.join(work, "relay-state")
    listen = f"127.0.0.1:{free_port()}"
    agent = subprocess.Popen(agent_cmd(server.otlp_grpc, state, listen, interval="60s"),
                             stderr=open(os.path.join(work, "relay-agent.log"), "wb"))
    try:
        host, port = listen.rsplit(":", 1)
        for _ in range(200):
            if port_open(host, int(port)):
                break
            time.sleep(0.05)
        requests = make_requests(spans, per_request)
        buffer_dir = os.path.join(state, "buffer")
        chunks = [requests[i::threads] for i in range(threads)]

        def send(chunk):
            with grpc.insecure_channel(listen) as ch:
                call = ch.unary_unary(TRACE_EXPORT, request_serializer=None, response_deserializer=None)
                for body in chunk:
                    call(body, timeout=30)
        workers = [threading.Thread(target=send, args=(c,)) for c in chunks]
        t0 = time.monotonic()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        accepted_s = time.monotonic() - t0
        while any(n.endswith(".traces") for n in os.listdir(buffer_dir)):
            time.sleep(0.01)
        forwarded_s = time.monotonic() - t0
        return {"spans": spans, "spans_per_request": per_request, "client_threads": threads,
                "accepted_spans_per_s": round(spans / accepted_s), "forwarded_spans_per_s": round(spans / forwarded_s),
                "agent_peak_rss_mb": round(peak_rss_mb(agent.pid), 1)}
    finally:
        agent.terminate()
        agent.wait(30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=300, help="measured footprint window, seconds (default 300)")
    ap.add_argument("--warmup", type=float, default=15, help="seconds before measuring (default 15)")
    ap.add_argument("--spans", type=int, default=200_000, help="spans sent through the relay (default 200,000)")
    ap.add_argument("--per-request", type=int, default=512)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--skip-footprint", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="stackeye-bench-agent-")
    server = StackeyeServer(os.path.join(work, "collector")).start()
    doc = {"machine": machine()}
    try:
        if not args.skip_footprint:
            rows = footprint(server, work, args.duration, args.warmup)
            doc["footprint"] = rows
            print(table(rows))
            print(f"goal: <= {GOAL_CPU_PCT}% of a core and <= {GOAL_RSS_MB} MB peak RSS\n")
        r = relay(server, work, args.spans, args.per_request, args.threads)
        doc["relay"] = r
        print(table([r]))
        print(f"goal: >= {GOAL_SPANS_S} spans/s forwarded")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("saved", save("agent", doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
