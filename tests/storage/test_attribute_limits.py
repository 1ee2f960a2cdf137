"""Attribute limits: over-long values and keys are cut, attributes over the count dropped, each cut
counted, and nothing else of the batch is lost."""
from __future__ import annotations

import time
import urllib.request

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from stackeye.core.signals import Signal
from stackeye.storage.attribute_limits import AttributeLimits, limit_request
from support.otlp_builders import add_attrs, logs_request, metrics_request, spans_request
from support.wait import wait_until

MIB = 1 << 20


def rows(storage, sql):
    res = storage.query(sql)
    return [dict(zip(res.columns, r)) for r in res.rows]


def test_a_1mb_value_is_cut_to_the_limit_with_its_neighbours_intact(chdb_storage):
    st = chdb_storage()
    big = spans_request("limits-big", 1, attrs={"before": "b", "huge": "x" * MIB, "after": 7})
    fine = spans_request("limits-big", 3)  # in the same batch: untouched
    cut = st.insert_otlp(Signal.TRACES, [big.SerializeToString(), fine.SerializeToString()], "limits-1")
    assert cut == {"value": 1}
    got = rows(st, "SELECT length(SpanAttributes['huge']) AS n, SpanAttributes['before'] AS b, "
                   "SpanAttributes['after'] AS a FROM otel_traces WHERE mapContains(SpanAttributes, 'huge')")
    assert got == [{"n": 64 << 10, "b": "b", "a": "7"}]
    assert rows(st, "SELECT count() AS n FROM otel_traces WHERE ServiceName = 'limits-big'") == [{"n": 4}]


def test_500_attributes_keep_the_first_128(chdb_storage):
    st = chdb_storage()
    req = spans_request("limits-many", 2, attrs={f"a{i:03}": i for i in range(500)})
    assert st.insert_otlp(Signal.TRACES, [req.SerializeToString()], "limits-2") == {"count": 2 * 372}
    got = rows(st, "SELECT length(SpanAttributes) AS n, arraySort(mapKeys(SpanAttributes))[128] AS last "
                   "FROM otel_traces WHERE ServiceName = 'limits-many'")
    assert got == [{"n": 128, "last": "a127"}] * 2


def test_long_keys_resource_attributes_and_log_records_are_cut_with_configured_limits(chdb_storage):
    st = chdb_storage(attributes=AttributeLimits(max_attributes=4, max_key_bytes=13, max_value_bytes=12))
    req = logs_request("lim-logs", ["a body longer than twelve bytes is not an attribute"])
    add_attrs(req.resource_logs[0].resource.attributes, {f"r{i}": str(i) for i in range(4)})  # 5 with service.name
    add_attrs(req.resource_logs[0].scope_logs[0].log_records[0].attributes, {"k" * 20: "v", "é" * 7: "0123456789aé"})
    assert st.insert_otlp(Signal.LOGS, [req.SerializeToString()], "limits-3") == {"count": 1, "key": 2, "value": 1}
    got = rows(st, "SELECT mapKeys(ResourceAttributes) AS r, LogAttributes AS a, Body AS b FROM otel_logs")
    # cut at UTF-8 character boundaries: "é" * 6 is 12 bytes, "0123456789a" 11 (the last "é" did not fit)
    assert got == [{"r": ["service.name", "r0", "r1", "r2"], "a": {"k" * 13: "v", "é" * 6: "0123456789a"},
                    "b": "a body longer than twelve bytes is not an attribute"}]


def test_metric_points_are_checked_too(chdb_storage):
    st = chdb_storage()
    req = metrics_request("limits-metrics")
    metric = req.resource_metrics[0].scope_metrics.add().metrics.add(name="m")
    point = metric.gauge.data_points.add(time_unix_nano=time.time_ns(), as_double=1.0)
    add_attrs(point.attributes, {"huge": "x" * MIB, "small": "s"})
    assert st.insert_otlp(Signal.METRICS, [req.SerializeToString()], "limits-4") == {"value": 1}
    assert rows(st, "SELECT length(Attributes['huge']) AS n, Attributes['small'] AS s FROM otel_metrics_gauge") == [
        {"n": 64 << 10, "s": "s"}]


def test_within_the_limits_the_bytes_are_left_alone():
    payload = spans_request("fine", 5, attrs={"k": "v" * 100}).SerializeToString()
    assert limit_request(Signal.TRACES, payload, AttributeLimits()) == (payload, {})


def test_bytes_values_event_and_link_attributes_are_cut():
    req = ExportTraceServiceRequest()
    span = req.resource_spans.add().scope_spans.add().spans.add()
    span.attributes.add(key="blob").value.bytes_value = b"\x00" * 100
    add_attrs(span.events.add(name="e").attributes, {"x": "y" * 100})
    add_attrs(span.links.add().attributes, {f"l{i}": i for i in range(3)})
    out, cut = limit_request(Signal.TRACES, req.SerializeToString(), AttributeLimits(2, 256, 10))
    assert cut == {"value": 2, "count": 1}
    span = ExportTraceServiceRequest.FromString(out).resource_spans[0].scope_spans[0].spans[0]
    assert span.attributes[0].value.bytes_value == b"\x00" * 10
    assert span.events[0].attributes[0].value.string_value == "y" * 10
    assert [kv.key for kv in span.links[0].attributes] == ["l0", "l1"]


@pytest.mark.slow
def test_a_running_stackeye_counts_the_cuts(stackeye_up):
    def truncated() -> float:
        with urllib.request.urlopen(stackeye_up.http_url + "/metrics", timeout=10) as resp:
            lines = resp.read().decode().splitlines()
        return sum(float(ln.rsplit(" ", 1)[1]) for ln in lines
                   if ln.startswith('stackeye_ingest_truncated_total{signal="traces",what="value"}'))

    before = truncated()
    channel = grpc.insecure_channel(stackeye_up.otlp_grpc)
    export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                 request_serializer=None, response_deserializer=None)
    export(spans_request("limits-e2e", 1, attrs={"huge": "x" * MIB, "n": 1}).SerializeToString(), timeout=30)
    channel.close()
    assert stackeye_up.wait_for_count("SELECT count() FROM otel_traces WHERE ServiceName = 'limits-e2e' "
                                      "AND length(SpanAttributes['huge']) = 65536 AND SpanAttributes['n'] = '1'", 1) == 1
    # the writer counts once the insert has returned: a moment after the row is visible
    wait_until(lambda: truncated() == before + 1, timeout=10, message=lambda: f"truncated: {truncated()} (was {before})")
