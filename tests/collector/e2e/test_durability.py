"""Acknowledged means durable: kill -9, restart and SIGTERM lose nothing and duplicate nothing."""
from __future__ import annotations

import os
import signal
import threading
import time

import grpc
from support.otlp_builders import spans_request
from support.server import StackeyeServer
from support.wait import wait_until

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


class Sender:
    """Client threads sending requests of unique span ids; remembers which were acknowledged."""

    def __init__(self, address: str, service: str, threads: int = 3, spans: int = 50):
        self.address, self.service, self.spans = address, service, spans
        self.acked: set[str] = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self):
        channel = grpc.insecure_channel(self.address)
        call = channel.unary_unary(TRACE_EXPORT, request_serializer=None, response_deserializer=None)
        while not self.stop.is_set():
            ids = [os.urandom(8) for _ in range(self.spans)]
            try:
                call(spans_request(self.service, self.spans, ids=ids).SerializeToString(), timeout=5)
            except grpc.RpcError:
                time.sleep(0.05)  # server gone: not acknowledged, may or may not be stored
                continue
            with self.lock:
                self.acked.update(i.hex() for i in ids)
        channel.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(10)


def span_counts(server: StackeyeServer, service: str) -> tuple[int, int, set[str]]:
    rows = server.sql(f"SELECT SpanId FROM otel_traces WHERE ServiceName = '{service}'")
    ids = [r["SpanId"] for r in rows]
    return len(ids), len(set(ids)), set(ids)


def restarted(server: StackeyeServer) -> StackeyeServer:
    again = StackeyeServer(server.data_dir)
    again.grpc_port, again.otlp_http_port, again.http_port = server.grpc_port, server.otlp_http_port, server.http_port
    return again.start()


def test_kill_9_during_steady_ingest_loses_and_duplicates_nothing(tmp_path):
    server = StackeyeServer(str(tmp_path / "data"), extra_args=["--batch-max-wait-s", "0.2"]).start()
    with Sender(server.otlp_grpc, "crashy") as sender:
        # at most 30 s of steady ingest, then the crash either way (the test needs 1000 acked)
        wait_until(lambda: len(sender.acked) >= 5000, timeout=30, required=False)
        server.kill()  # mid-stream: requests in flight, batches being inserted
        time.sleep(0.5)
    acked = set(sender.acked)
    assert len(acked) >= 1000
    server = restarted(server)
    try:
        # the replayed spool drains (what is left after 60 s shows as lost spans below)
        wait_until(lambda: not server.health()["queue_bytes"], timeout=60, interval=0.2, required=False)
        total, unique, ids = span_counts(server, "crashy")
        assert acked <= ids, f"{len(acked - ids)} acknowledged spans lost"
        assert total == unique, f"{total - unique} spans written twice"
    finally:
        server.stop()


def test_restart_keeps_data_and_sigterm_drains(tmp_path):
    server = StackeyeServer(str(tmp_path / "data"), extra_args=["--batch-max-wait-s", "30"]).start()
    with grpc.insecure_channel(server.otlp_grpc) as channel:
        call = channel.unary_unary(TRACE_EXPORT, request_serializer=None, response_deserializer=None)
        for _ in range(10):
            call(spans_request("drained", 100).SerializeToString(), timeout=5)
    # with a 30 s batch wait nothing is written yet: SIGTERM must drain the spool into ClickHouse
    assert server.stop(signal.SIGTERM) == 0
    server = restarted(server)
    try:
        total, unique, _ = span_counts(server, "drained")
        assert (total, unique) == (1000, 1000)
    finally:
        server.stop()
