"""Cluster mode end to end, every part a real process: OTel SDK / gRPC clients → ``stackeye
collector`` → Kafka (tansu) → ``stackeye writer`` → ClickHouse (chDB via ``--clickhouse chdb:///…``)."""
from __future__ import annotations

import subprocess
import urllib.request
import uuid

import grpc
from cluster.helpers import collector_args, sql_json, stackeye, writer_args
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from stackeye.core.signals import Signal
from support.otlp_builders import spans_request
from support.services import free_port

_EXPORT = "/" + Signal.TRACES.grpc_service + "/Export"


def test_sdk_spans_through_kafka_all_come_back_by_sql(kafka, procs, tmp_path):
    grpc_port = free_port()
    collector = procs("collector", collector_args(kafka, grpc_port))
    url = f"chdb://{tmp_path / 'ch'}"
    writer = procs("writer", writer_args(kafka, url))
    service = "svc-" + uuid.uuid4().hex[:8]
    memory = InMemorySpanExporter()
    tp = TracerProvider(resource=Resource.create({"service.name": service}))
    tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True),
                                             max_export_batch_size=64))
    tp.add_span_processor(SimpleSpanProcessor(memory))
    tracer = tp.get_tracer("cluster.tests", "1.0")
    for i in range(150):
        with tracer.start_as_current_span("GET /items/{id}", kind=SpanKind.SERVER, attributes={"i": i, "ok": i % 2 == 0}):
            with tracer.start_as_current_span("SELECT items", kind=SpanKind.CLIENT):
                pass
    assert tp.force_flush(30_000)
    tp.shutdown()
    sent = {format(s.context.span_id, "016x"): s for s in memory.get_finished_spans()}
    assert len(sent) == 300
    assert writer.wait_written(300) == 300, writer.log_tail()
    assert collector.health()["received_items"] == 300
    for proc, metric in ((collector, "stackeye_received_items_total"), (writer, "stackeye_written_items_total")):
        with urllib.request.urlopen(f"http://127.0.0.1:{proc.http_port}/metrics", timeout=5) as resp:
            assert metric in resp.read().decode()
    writer.stop()
    rows = sql_json(url, f"SELECT SpanId, SpanName, SpanKind, SpanAttributes['i'] AS i FROM otel_traces "
                         f"WHERE ServiceName = '{service}'")
    assert {r["SpanId"] for r in rows} == set(sent)
    assert len(rows) == 300
    for r in rows:
        span = sent[r["SpanId"]]
        assert r["SpanName"] == span.name
        assert r["SpanKind"] == {SpanKind.SERVER: "Server", SpanKind.CLIENT: "Client"}[span.kind]
        assert r["i"] == str(span.attributes.get("i", "")) if span.attributes else r["i"] == ""


def _export(channel, payload: bytes, timeout: float = 15.0):
    call = channel.unary_unary(_EXPORT, request_serializer=None, response_deserializer=None)
    try:
        call(payload, timeout=timeout)
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as err:
        return err.code(), err.details()


def test_kafka_unreachable_means_unavailable_and_everything_acknowledged_arrives(kafka, procs, tmp_path):
    grpc_port = free_port()
    procs("collector", collector_args(kafka, grpc_port, "--produce-timeout", "2"))
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    acked, refused = set(), []

    def send(tag: str, n: int):
        for i in range(n):
            req = spans_request(f"{tag}", 5)
            code, details = _export(channel, req.SerializeToString())
            ids = {s.span_id.hex() for s in req.resource_spans[0].scope_spans[0].spans}
            if code == grpc.StatusCode.OK:
                acked.update(ids)
            else:
                refused.append((code, details))

    send("before", 10)
    assert len(acked) == 50 and not refused
    kafka.pause()  # unreachable: requests time out, as behind a partition
    try:
        send("during", 3)
    finally:
        kafka.resume()
    assert len(refused) == 3
    for code, details in refused:
        assert code == grpc.StatusCode.UNAVAILABLE
        assert f"Kafka at {kafka.bootstrap} is unavailable" in details and "retry later" in details
    send("after", 10)  # the collector recovers by itself
    assert len(acked) == 100 and len(refused) == 3
    url = f"chdb://{tmp_path / 'ch'}"
    writer = procs("writer", writer_args(kafka, url))
    writer.wait_written(100)
    writer.stop()
    present = {r["SpanId"] for r in sql_json(url, "SELECT SpanId FROM otel_traces")}
    assert acked <= present  # a refused request may still have landed (at least once), never an acked one lost
    kafka.stop()  # gone altogether: refused at once with the reason
    code, details = _export(channel, spans_request("gone", 1).SerializeToString())
    assert code == grpc.StatusCode.UNAVAILABLE and "Kafka at" in details
    channel.close()


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(stackeye(*args), capture_output=True, text=True, timeout=60)


def test_bad_kafka_and_clickhouse_urls_exit_2_with_the_fix(tmp_path):
    cases = [
        (("collector", "--kafka", "kafka1"), "expected host:port"),
        (("collector", "--kafka", "k1:9092,,k2:9092"), "expected host:port"),
        (("writer", "--kafka", "k1:notaport", "--clickhouse", "chdb:///tmp/x"), "expected host:port"),
        (("writer", "--kafka", "k1:9092", "--clickhouse", "mysql://db:3306/x"), "unsupported storage URL"),
        (("writer", "--kafka", "k1:9092", "--clickhouse", "clickhouse://:9000/otel"), "no host"),
        (("writer", "--kafka", "k1:9092", "--clickhouse", "clickhouse://h:port/otel"), "port is not a number"),
        (("migrate", "--clickhouse", "chdb://relative/path"), "three slashes"),
        (("sql", "--clickhouse", "http://h:8123", "SELECT 1"), "unsupported storage URL"),
    ]
    for args, message in cases:
        out = _run(*args)
        assert out.returncode == 2, (args, out.returncode, out.stderr[-2000:])
        assert message in out.stderr, (args, out.stderr[-2000:])
