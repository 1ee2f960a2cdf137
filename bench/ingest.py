#!/usr/bin/env python3
"""Ingest throughput of ``stackeye up``, end to end, beside a raw chDB insert of the same rows.

    python bench/ingest.py                  # 1,000,000 spans, 512 per request, 4 client threads
    python bench/ingest.py --spans 200000   # quicker

Clients send pre-encoded ExportTraceServiceRequests on a raw gRPC stub (the SDK's exporter encodes
only ~21k spans/s per thread, too slow to load the server). Reported: spans/s acknowledged, spans/s
queryable (first send → count() reaches N), ack latency p50/p99, the server's peak RSS, and the
reference: the same rows, flattened ahead of time into an Arrow table, inserted straight into chDB
(its fastest path) in batches of the same size, in a separate process.
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

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
SERVICES = ["checkout", "cart", "payments", "search", "users", "inventory", "shipping", "gateway"]


def make_requests(distinct: int, per_request: int) -> list[bytes]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    out = []
    now = time.time_ns()
    for r in range(distinct):
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        for k, v in (("service.name", SERVICES[r % len(SERVICES)]), ("host.name", f"host-{r % 5}"), ("telemetry.sdk.language", "python")):
            rs.resource.attributes.add(key=k).value.string_value = v
        ss = rs.scope_spans.add()
        ss.scope.name = "bench"
        for i in range(per_request):
            s = ss.spans.add()
            s.trace_id, s.span_id, s.parent_span_id = os.urandom(16), os.urandom(8), os.urandom(8)
            s.name = f"GET /api/v1/items/{{id}}/{i % 20}"
            s.kind = 2
            s.start_time_unix_nano = now + i * 1000
            s.end_time_unix_nano = now + i * 1000 + 1_000_000 + i * 37
            for a in range(6):
                s.attributes.add(key=f"attr.{a}").value.string_value = f"value-{(i + a) % 97}"
            s.attributes.add(key="http.status_code").value.int_value = 200 if i % 50 else 500
            s.attributes.add(key="http.route").value.string_value = f"/api/v1/items/{{id}}/{i % 20}"
        out.append(req.SerializeToString())
    return out


def run_stackeye(requests: list[bytes], total_requests: int, threads: int, data_dir: str) -> dict:
    server = StackeyeServer(data_dir).start()
    proc = psutil.Process(server.proc.pid)
    peak = [proc.memory_info().rss]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.1)

    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(total_requests))

    def client():
        channel = grpc.insecure_channel(server.otlp_grpc, options=[("grpc.max_send_message_length", 64 << 20)])
        call = channel.unary_unary(TRACE_EXPORT, request_serializer=None, response_deserializer=None)
        mine = []
        for n in counter:
            t0 = time.perf_counter()
            call(requests[n % len(requests)], timeout=60)
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)
        channel.close()

    threading.Thread(target=watch, daemon=True).start()
    started = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    acked_s = time.perf_counter() - started
    expected = total_requests * SPANS_PER_REQUEST
    while True:
        n = server.sql("SELECT count() AS n FROM otel_traces")[0]["n"]
        if n >= expected:
            break
        time.sleep(0.05)
    queryable_s = time.perf_counter() - started
    stop.set()
    server.stop()
    latencies.sort()
    return {
        "spans": expected,
        "acked_spans_per_s": round(expected / acked_s),
        "queryable_spans_per_s": round(expected / queryable_s),
        "ack_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "ack_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
        "peak_rss_mib": round(peak[0] / 2**20),
    }


REFERENCE = r'''
import sys, time, os, json
import pyarrow as pa, chdb
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from stackeye.storage.url import parse_storage_url
from stackeye.storage.chdb_storage import ChdbStorage
path, req_file, total_requests = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(req_file, "rb").read()
reqs, off = [], 0
while off < len(data):
    n = int.from_bytes(data[off:off+4], "little"); reqs.append(data[off+4:off+4+n]); off += 4 + n
st = ChdbStorage(parse_storage_url("chdb://" + path)); st.migrate(); st.close()
def hexs(b): return b.hex()
tables = []
for raw in reqs:  # flatten ahead of time: not measured
    req = ExportTraceServiceRequest.FromString(raw)
    cols = {k: [] for k in ("Timestamp","TraceId","SpanId","ParentSpanId","SpanName","SpanKind","ServiceName","ResourceAttributes","ScopeName","ScopeVersion","SpanAttributes","Duration","StatusCode")}
    for rs in req.resource_spans:
        res = {kv.key: kv.value.string_value for kv in rs.resource.attributes}
        for ss in rs.scope_spans:
            for s in ss.spans:
                cols["Timestamp"].append(s.start_time_unix_nano); cols["TraceId"].append(s.trace_id.hex()); cols["SpanId"].append(s.span_id.hex())
                cols["ParentSpanId"].append(s.parent_span_id.hex()); cols["SpanName"].append(s.name); cols["SpanKind"].append("Server")
                cols["ServiceName"].append(res["service.name"]); cols["ResourceAttributes"].append(list(res.items()))
                cols["ScopeName"].append(ss.scope.name); cols["ScopeVersion"].append(ss.scope.version)
                cols["SpanAttributes"].append([(kv.key, kv.value.string_value or str(kv.value.int_value)) for kv in s.attributes])
                cols["Duration"].append(s.end_time_unix_nano - s.start_time_unix_nano); cols["StatusCode"].append("Unset")
    m = pa.map_(pa.string(), pa.string())
    tables.append(pa.table({
        "Timestamp": pa.array(cols["Timestamp"], pa.timestamp("ns")), "TraceId": cols["TraceId"], "SpanId": cols["SpanId"],
        "ParentSpanId": cols["ParentSpanId"], "SpanName": cols["SpanName"], "SpanKind": cols["SpanKind"], "ServiceName": cols["ServiceName"],
        "ResourceAttributes": pa.array(cols["ResourceAttributes"], m), "ScopeName": cols["ScopeName"], "ScopeVersion": cols["ScopeVersion"],
        "SpanAttributes": pa.array(cols["SpanAttributes"], m), "Duration": pa.array(cols["Duration"], pa.uint64()), "StatusCode": cols["StatusCode"]}))
conn = chdb.connect(path)
per_insert = int(sys.argv[4])  # requests per insert, as the writer batches them
batches = []
for i in range(0, total_requests, per_insert):
    batches.append(pa.concat_tables([tables[j % len(tables)] for j in range(i, min(i + per_insert, total_requests))]))
t0 = time.perf_counter()
rows = 0
for b in batches:
    arrow_table = b
    conn.query("INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode) SELECT * FROM Python(arrow_table)")
    rows += b.num_rows
el = time.perf_counter() - t0
print(json.dumps({"rows": rows, "seconds": el}))
'''


def run_reference(requests: list[bytes], total_requests: int, data_dir: str) -> dict:
    req_file = os.path.join(data_dir, "requests.bin")
    os.makedirs(data_dir, exist_ok=True)
    with open(req_file, "wb") as f:
        for r in requests:
            f.write(len(r).to_bytes(4, "little") + r)
    from stackeye.app.up_config import UpConfig

    per_insert = str(UpConfig().batch_max_records)  # the same batches as stackeye up's writer
    out = subprocess.run([sys.executable, "-c", REFERENCE, os.path.join(data_dir, "ref"), req_file, str(total_requests), per_insert],
                         capture_output=True, text=True, check=True)
    import json
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    return {"spans": doc["rows"], "insert_spans_per_s": round(doc["rows"] / doc["seconds"])}


SPANS_PER_REQUEST = 512


def main() -> int:
    global SPANS_PER_REQUEST
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--per-request", type=int, default=512)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--distinct", type=int, default=64, help="distinct pre-encoded requests, cycled")
    args = ap.parse_args()
    SPANS_PER_REQUEST = args.per_request
    total_requests = max(1, args.spans // args.per_request)
    print(f"encoding {args.distinct} distinct requests of {args.per_request} spans…", flush=True)
    requests = make_requests(args.distinct, args.per_request)
    tmp = tempfile.mkdtemp(prefix="stackeye-bench-")
    try:
        print(f"stackeye up: {total_requests * args.per_request:,} spans from {args.threads} threads…", flush=True)
        ours = run_stackeye(requests, total_requests, args.threads, os.path.join(tmp, "up"))
        print("reference: the same rows as a pre-built Arrow table inserted straight into chDB…", flush=True)
        ref = run_reference(requests, total_requests, os.path.join(tmp, "ref"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        {"path": "stackeye up (OTLP/gRPC → spool → engine flatten)", **ours},
        {"path": "reference: Arrow insert into chDB", "spans": ref["spans"], "queryable_spans_per_s": ref["insert_spans_per_s"]},
    ]
    ratio = ours["queryable_spans_per_s"] / ref["insert_spans_per_s"]
    print()
    print(table(rows))
    print(f"\nend-to-end / raw insert = {ratio:.2f}   (goal: >= 100,000 spans/s end to end)")
    print("saved", save("ingest", {"machine": machine(), "args": vars(args), "results": rows, "ratio": ratio}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
