"""The real OpenTelemetry SDK exporters → a running ``stackeye up`` → every item back by SQL, exactly."""
from __future__ import annotations

import logging
import uuid

from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

KIND = {SpanKind.INTERNAL: "Internal", SpanKind.SERVER: "Server", SpanKind.CLIENT: "Client",
        SpanKind.PRODUCER: "Producer", SpanKind.CONSUMER: "Consumer"}


def exporter_string(v) -> str:
    """How the OTel Collector's ClickHouse exporter renders an attribute value (Go's AsString)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v).removesuffix(".0")  # 0.0 -> "0", 2.5 -> "2.5" (shortest round-trip form)
    if isinstance(v, tuple):
        return "[" + ",".join(f'"{x}"' for x in v) + "]"
    return str(v)


def _service() -> str:
    return "svc-" + uuid.uuid4().hex[:8]


def test_spans_come_back_exactly(stackeye_up):
    service = _service()
    memory = InMemorySpanExporter()
    tp = TracerProvider(resource=Resource.create({"service.name": service, "deployment.environment": "test"}))
    tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=stackeye_up.otlp_grpc, insecure=True, compression=None)))
    tp.add_span_processor(SimpleSpanProcessor(memory))
    tracer = tp.get_tracer("e2e.tests", "3.2.1")
    for i in range(40):
        with tracer.start_as_current_span("GET /orders/{id}", kind=SpanKind.SERVER,
                                          attributes={"http.route": "/orders/{id}", "http.status_code": 200 + i,
                                                      "ratio": i / 4, "ok": i % 2 == 0, "tags": ["a", "b"]}) as root:
            with tracer.start_as_current_span("SELECT orders", kind=SpanKind.CLIENT,
                                              attributes={"db.system": "postgresql", "server.port": 5432}) as child:
                child.add_event("retry", {"attempt": i})
            with tracer.start_as_current_span("publish", kind=SpanKind.PRODUCER, links=[Link(child.get_span_context(), {"l": "x"})]):
                pass
            if i % 10 == 0:
                root.set_status(Status(StatusCode.ERROR, f"failed {i}"))
    tp.shutdown()
    expected = {format(s.context.span_id, "016x"): s for s in memory.get_finished_spans()}
    assert len(expected) == 120

    assert stackeye_up.wait_for_count(f"SELECT count() FROM otel_traces WHERE ServiceName = '{service}'", 120) == 120
    rows = stackeye_up.sql(
        "SELECT TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ScopeName, ScopeVersion, SpanAttributes, "
        "ResourceAttributes, Duration, StatusCode, StatusMessage, Events.Name, Events.Attributes, "
        "Links.SpanId, Links.Attributes, toUnixTimestamp64Nano(Timestamp) AS start_ns "
        f"FROM otel_traces WHERE ServiceName = '{service}'"
    )
    assert {r["SpanId"] for r in rows} == set(expected)
    for r in rows:
        s = expected[r["SpanId"]]
        assert r["TraceId"] == format(s.context.trace_id, "032x")
        assert r["ParentSpanId"] == (format(s.parent.span_id, "016x") if s.parent else "")
        assert (r["SpanName"], r["SpanKind"]) == (s.name, KIND[s.kind])
        assert (r["ScopeName"], r["ScopeVersion"]) == ("e2e.tests", "3.2.1")
        assert r["start_ns"] == s.start_time and r["Duration"] == s.end_time - s.start_time
        assert r["SpanAttributes"] == {k: exporter_string(v) for k, v in s.attributes.items()}
        assert r["ResourceAttributes"]["service.name"] == service
        assert r["ResourceAttributes"]["deployment.environment"] == "test"
        assert r["ResourceAttributes"]["telemetry.sdk.language"] == "python"
        if s.status.status_code is StatusCode.ERROR:
            assert (r["StatusCode"], r["StatusMessage"]) == ("Error", s.status.description)
        else:
            assert r["StatusCode"] == "Unset"
        assert r["Events.Name"] == [e.name for e in s.events]
        assert r["Events.Attributes"] == [{k: str(v) for k, v in e.attributes.items()} for e in s.events]
        assert r["Links.SpanId"] == [format(link.context.span_id, "016x") for link in s.links]
        assert r["Links.Attributes"] == [dict(link.attributes) for link in s.links]
    # the trace-id lookup table knows every trace
    traces = {format(s.context.trace_id, "032x") for s in expected.values()}
    ids = ", ".join(f"'{t}'" for t in traces)
    assert stackeye_up.wait_for_count(f"SELECT uniqExact(TraceId) FROM otel_traces_trace_id_ts WHERE TraceId IN ({ids})", 40) == 40


def test_metrics_come_back_exactly(stackeye_up):
    service = _service()
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=stackeye_up.otlp_grpc, insecure=True),
                                           export_interval_millis=3_600_000)
    mp = MeterProvider(resource=Resource.create({"service.name": service}), metric_readers=[reader])
    meter = mp.get_meter("e2e.meter")
    orders = meter.create_counter("orders_placed", unit="1", description="orders")
    orders.add(5, {"plan": "pro"})
    orders.add(7, {"plan": "pro"})
    orders.add(1, {"plan": "free"})
    latency = meter.create_histogram("latency", unit="ms")
    for v in (1, 5, 100):
        latency.record(v, {"route": "/a"})
    queue = meter.create_up_down_counter("queue_depth")
    queue.add(10)
    queue.add(-3)
    meter.create_observable_gauge("temperature", callbacks=[lambda options: [__import__("opentelemetry.metrics").metrics.Observation(21.5, {"room": "x"})]])
    mp.shutdown()  # exports once

    # one request, five tables (inserted one after the other): wait for each
    for table, n in (("sum", 3), ("histogram", 1), ("gauge", 1)):
        assert stackeye_up.wait_for_count(f"SELECT count() FROM otel_metrics_{table} WHERE ServiceName = '{service}'", n) == n
    sums = stackeye_up.sql(
        f"SELECT MetricName, Attributes['plan'] AS plan, Value, IsMonotonic, AggregationTemporality FROM otel_metrics_sum "
        f"WHERE ServiceName = '{service}' ORDER BY MetricName, plan"
    )
    assert [(r["MetricName"], r["plan"], r["Value"], r["IsMonotonic"]) for r in sums] == [
        ("orders_placed", "free", 1, True), ("orders_placed", "pro", 12, True), ("queue_depth", "", 7, False)]
    assert {r["AggregationTemporality"] for r in sums} == {2}  # cumulative
    [h] = stackeye_up.sql(f"SELECT Count, Sum, Min, Max, BucketCounts, ExplicitBounds, Attributes FROM otel_metrics_histogram "
                          f"WHERE ServiceName = '{service}'")
    assert (h["Count"], h["Sum"], h["Min"], h["Max"], h["Attributes"]) == (3, 106, 1, 100, {"route": "/a"})
    bounds = h["ExplicitBounds"]
    assert sum(h["BucketCounts"]) == 3 and len(h["BucketCounts"]) == len(bounds) + 1
    [g] = stackeye_up.sql(f"SELECT MetricName, Value, Attributes FROM otel_metrics_gauge WHERE ServiceName = '{service}'")
    assert (g["MetricName"], g["Value"], g["Attributes"]) == ("temperature", 21.5, {"room": "x"})


def test_logs_come_back_exactly(stackeye_up):
    service = _service()
    lp = LoggerProvider(resource=Resource.create({"service.name": service}))
    lp.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=stackeye_up.otlp_grpc, insecure=True)))
    logger = logging.getLogger("e2e." + service)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=lp))
    tp = TracerProvider()
    with tp.get_tracer("t").start_as_current_span("parent") as span:
        logger.warning("disk %s almost full", "/var", extra={"disk.free_pct": 3})
        ctx = span.get_span_context()
    logger.error("boom")
    logger.debug("quiet")
    lp.shutdown()

    assert stackeye_up.wait_for_count(f"SELECT count() FROM otel_logs WHERE ServiceName = '{service}'", 3) == 3
    rows = stackeye_up.sql(f"SELECT Body, SeverityText, SeverityNumber, TraceId, SpanId, LogAttributes FROM otel_logs "
                           f"WHERE ServiceName = '{service}' ORDER BY Timestamp")
    assert [(r["Body"], r["SeverityText"], r["SeverityNumber"]) for r in rows] == [
        ("disk /var almost full", "WARN", 13), ("boom", "ERROR", 17), ("quiet", "DEBUG", 5)]
    assert rows[0]["TraceId"] == format(ctx.trace_id, "032x") and rows[0]["SpanId"] == format(ctx.span_id, "016x")
    assert rows[0]["LogAttributes"]["disk.free_pct"] == "3"
    assert rows[1]["TraceId"] == ""
