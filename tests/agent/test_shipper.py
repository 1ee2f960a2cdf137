"""The shipper's parts: the ordered bounded disk queue, and the sending loop against a real gRPC server
(the backoff itself: tests/core/test_retry.py)."""
from __future__ import annotations

from stackeye.agent.shipper.queue import DiskQueue
from stackeye.core.retry import Backoff
from support.wait import wait_until


def test_queue_is_fifo_and_survives_restart(tmp_path):
    q = DiskQueue(str(tmp_path), max_bytes=10_000)
    for i in range(5):
        q.put("metrics" if i % 2 else "logs", f"item-{i}".encode())
    seq, signal, payload = q.peek()
    assert (signal, payload) == ("logs", b"item-0")
    q.ack(seq)
    q2 = DiskQueue(str(tmp_path), max_bytes=10_000)  # a restart
    got = []
    while (item := q2.peek(timeout=0)) is not None:
        got.append(item[2])
        q2.ack(item[0])
    assert got == [b"item-1", b"item-2", b"item-3", b"item-4"]
    q2.put("traces", b"after")
    seq_after, _, payload = q2.peek()
    assert payload == b"after" and q2.depth == 1
    q2.ack(seq_after)
    q3 = DiskQueue(str(tmp_path), max_bytes=10_000)  # restart with an empty buffer: numbers never repeat
    q3.put("logs", b"later")
    assert q3.peek()[0] > seq_after


def test_queue_bound_drops_oldest_and_counts(tmp_path, caplog):
    q = DiskQueue(str(tmp_path), max_bytes=100)
    for i in range(10):
        q.put("metrics", bytes([i]) * 30)
    assert q.bytes <= 100 and q.depth == 3
    assert q.dropped == 7 and q.dropped_bytes == 210
    assert q.peek()[2] == bytes([7]) * 30  # the oldest kept is the 8th: newest data wins
    assert any("disk buffer full" in r.getMessage() for r in caplog.records)
    assert not q.put("metrics", b"x" * 101) and q.dropped == 8
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_ack_only_removes_the_head(tmp_path):
    q = DiskQueue(str(tmp_path), max_bytes=1000)
    q.put("metrics", b"a")
    q.put("metrics", b"b")
    q.ack(2)  # not the head: ignored, order is kept
    assert q.peek()[2] == b"a" and q.depth == 2


class RecordingCollector:
    """A real gRPC server with the OTLP MetricsService that records what it receives."""

    def __init__(self, port: int, received: list, refuse=None):
        from concurrent import futures

        import grpc

        def export(raw, context):
            if refuse and refuse(raw):
                context.abort(*refuse(raw))
            md = dict(context.invocation_metadata())
            received.append((md.get("authorization"), raw, md.get("stackeye-batch-id")))
            return b""
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        self.server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
            "opentelemetry.proto.collector.metrics.v1.MetricsService",
            {"Export": grpc.unary_unary_rpc_method_handler(export, request_deserializer=None, response_serializer=None)})])
        assert self.server.add_insecure_port(f"127.0.0.1:{port}") == port
        self.server.start()

    def stop(self):
        self.server.stop(0).wait()


def test_shipper_replays_in_order_once_after_an_outage(tmp_path):

    from stackeye.agent.shipper.sender import GrpcSender, Shipper
    from support.services import free_port

    port = free_port()
    received: list = []
    collector = RecordingCollector(port, received)
    q = DiskQueue(str(tmp_path), max_bytes=1 << 20)
    shipper = Shipper(q, GrpcSender(f"127.0.0.1:{port}", token="abc", timeout=2), Backoff(0.05, 0.3), "agent-1").start()
    try:
        for i in range(5):
            q.put("metrics", f"batch-{i:03d}".encode())
        assert q.wait_empty(30)
        collector.stop()  # the collector goes away; batches pile up on disk
        for i in range(5, 40):
            q.put("metrics", f"batch-{i:03d}".encode())
        wait_until(lambda: shipper.failures > 0, timeout=30, interval=0.05, message="a failed send")
        assert q.depth > 0
        collector = RecordingCollector(port, received)  # back on the same port
        assert q.wait_empty(60)
    finally:
        shipper.stop()
        collector.stop()
    assert [raw for _, raw, _ in received] == [f"batch-{i:03d}".encode() for i in range(40)], "in order, once"
    assert {auth for auth, _, _ in received} == {"Bearer abc"}
    ids = [bid for _, _, bid in received]
    assert len(set(ids)) == 40 and all(b.startswith("agent-1-") for b in ids), "a stable id per batch"
    assert shipper.sent == 40 and q.dropped == 0


def test_requests_the_collector_calls_invalid_or_too_large_are_dropped_not_retried(tmp_path):
    import grpc
    from stackeye.agent.shipper.sender import GrpcSender, Shipper
    from support.services import free_port

    def refuse(raw):
        if raw == b"bad":
            return grpc.StatusCode.INVALID_ARGUMENT, "malformed request"
        if raw == b"huge":
            return grpc.StatusCode.RESOURCE_EXHAUSTED, "request of 20000000 bytes is over the limit of 16777216 bytes"
        return None
    port = free_port()
    received: list = []
    collector = RecordingCollector(port, received, refuse)
    q = DiskQueue(str(tmp_path), max_bytes=1 << 20)
    shipper = Shipper(q, GrpcSender(f"127.0.0.1:{port}", timeout=5), Backoff(0.05, 0.2)).start()
    try:
        for body in (b"one", b"bad", b"two", b"huge", b"three"):
            q.put("metrics", body)
        assert q.wait_empty(30)
    finally:
        shipper.stop()
        collector.stop()
    assert [raw for _, raw, _ in received] == [b"one", b"two", b"three"]
    assert shipper.rejected == 2 and shipper.failures == 0
