"""A query the API runs cannot take down the process that holds ingest: on a real ``stackeye up``,
while a thread keeps exporting spans over OTLP/gRPC, SQL that needs gigabytes is refused with HTTP
400 naming the memory limit and its flag, the row limit is named too (for SQL and for a view),
every export is acknowledged and queryable afterwards, and the process's memory stays far below
what the unlimited query takes (5+ GB). (Spilling GROUP BY: tests/storage/test_query_limits.py.)"""
from __future__ import annotations

import json
import os
import threading
import time

import grpc
import psutil
from support.otlp_builders import spans_request
from support.server import StackeyeServer
from support.wait import wait_until

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
MiB, GiB = 1 << 20, 1 << 30
MEMORY_LIMIT = 512 * MiB
MAX_ROWS = 3
SERVICES = 5  # more than MAX_ROWS: the services view goes over the row limit
BIG_ARRAY = "SELECT groupArray(number) FROM numbers(100000000)"  # the report's query: 5.2 GB unlimited


class Exporter(threading.Thread):
    """Exports requests of 20 spans, one after the other, until stopped; remembers what was acknowledged."""

    def __init__(self, address: str):
        super().__init__(daemon=True)
        self.address = address
        self.acked: set[str] = set()
        self.failures: list[str] = []
        self.stop = threading.Event()

    def run(self):
        channel = grpc.insecure_channel(self.address)
        call = channel.unary_unary(TRACE_EXPORT, request_serializer=None, response_deserializer=None)
        n = 0
        while not self.stop.is_set():
            ids = [os.urandom(8) for _ in range(20)]
            try:
                call(spans_request(f"limits-{n % SERVICES}", 20, ids=ids).SerializeToString(), timeout=30)
            except grpc.RpcError as exc:
                self.failures.append(f"{exc.code()}: {exc.details()}")
            else:
                self.acked.update(i.hex() for i in ids)
            n += 1
            time.sleep(0.01)
        channel.close()


class PeakRSS(threading.Thread):
    """Samples a process's resident memory (psutil) until stopped."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.005)


def high_water_mark(pid: int) -> int | None:
    """The kernel's own peak RSS of the process (VmHWM), where there is /proc."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def post_sql(server, query: str):
    status, body = server.request("POST", "/api/v1/sql", {"query": query}, timeout=120)
    return status, json.loads(body)


def test_a_query_over_the_limits_is_400_and_ingest_keeps_acknowledging(tmp_path):
    server = StackeyeServer(str(tmp_path / "data"), ["--query-max-memory-bytes", str(MEMORY_LIMIT),
                                                     "--query-max-rows", str(MAX_ROWS), "--batch-max-wait-s", "0.2"])
    server.start()
    exporter, rss = Exporter(server.otlp_grpc), PeakRSS(server.proc.pid)
    try:
        rss.start()
        exporter.start()
        wait_until(lambda: len(exporter.acked) >= 200, timeout=30, interval=0.05,
                   message=lambda: f"200 exports acknowledged (failures: {exporter.failures[:3]})")
        before = len(exporter.acked)

        for _ in range(3):
            status, doc = post_sql(server, BIG_ARRAY)
            assert status == 400, doc
            assert doc["error"].startswith(f"the query needs more than {MEMORY_LIMIT} bytes of memory "
                                           "(query_max_memory_bytes / --query-max-memory-bytes); narrow the query"), doc
            assert doc["limit"] == "max_memory_usage" and doc["code"] == 241

        status, doc = post_sql(server, "SELECT number FROM numbers(1000)")
        assert status == 400 and doc["limit"] == "max_result_rows", doc
        assert f"more than {MAX_ROWS} rows (query_max_rows / --query-max-rows)" in doc["error"]

        status, body = server.request("GET", "/api/v1/views/services?since=1h&limit=100")
        doc = json.loads(body)
        assert status == 400 and doc["limit"] == "max_result_rows", doc
        assert "query_max_rows / --query-max-rows" in doc["error"]

        wait_until(lambda: len(exporter.acked) >= before + 200, timeout=10, interval=0.05,
                   message="ingest went on acknowledging meanwhile")
    finally:
        exporter.stop.set()
        exporter.join(60)
        rss.stop.set()
        rss.join(10)
        hwm = high_water_mark(server.proc.pid)
        try:
            acked = set(exporter.acked)
            if exporter.failures == [] and acked:
                written = server.wait_for_count(
                    "SELECT uniqExact(SpanId) FROM otel_traces WHERE ServiceName LIKE 'limits-%'", len(acked))
            else:
                written = None
        finally:
            server.stop()

    assert exporter.failures == [], f"{len(exporter.failures)} exports refused, e.g. {exporter.failures[:3]}"
    assert written == len(acked), f"{len(acked)} spans acknowledged, {written} queryable"
    bound = MEMORY_LIMIT + GiB
    assert rss.peak < bound, f"peak RSS {rss.peak / MiB:.0f} MiB with a {MEMORY_LIMIT / MiB:.0f} MiB query limit"
    assert hwm is None or hwm < bound, f"VmHWM {hwm / MiB:.0f} MiB with a {MEMORY_LIMIT / MiB:.0f} MiB query limit"
