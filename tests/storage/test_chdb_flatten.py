"""The engine-side flattening writes exactly what the OpenTelemetry Collector's ClickHouse exporter writes."""
from __future__ import annotations

import base64
import time

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from stackeye.core.signals import Signal
from support.otlp_builders import add_attrs, logs_request, set_value, spans_request


def _insert(storage, signal, *requests, token="t"):
    storage.insert_otlp(signal, [r.SerializeToString() for r in requests], token)


def rows(storage, sql):
    res = storage.query(sql)
    return [dict(zip(res.columns, r)) for r in res.rows]


def test_span_columns_match_the_exporter(chdb_storage):
    st = chdb_storage()
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    add_attrs(rs.resource.attributes, {"service.name": "checkout", "host.name": "web-1"})
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = "my.lib", "2.1"
    s = ss.spans.add()
    s.trace_id = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
    s.span_id = bytes.fromhex("00f067aa0ba902b7")
    s.parent_span_id = bytes.fromhex("1111111111111111")
    s.trace_state = "a=b"
    s.name = "GET /orders/{id}"
    s.kind = 3  # CLIENT
    start = (time.time_ns() // 10**9 - 3600) * 10**9 + 123_456_789  # inside the retention window
    s.start_time_unix_nano = start
    s.end_time_unix_nano = start + 42_000_000
    add_attrs(s.attributes, {
        "str": "x", "empty": "", "int": 42, "neg": -7, "zero": 0, "t": True, "f": False,
        "dbl": 1.5, "third": 1 / 3, "bytes": b"\x00\xff", "arr": ["a", 1, True], "map": {"b": 2, "a": "z"},
    })
    ev = s.events.add()
    ev.name, ev.time_unix_nano = "exception", s.start_time_unix_nano + 5
    add_attrs(ev.attributes, {"exception.type": "ValueError"})
    link = s.links.add()
    link.trace_id, link.span_id = bytes(range(16)), bytes(range(8))
    add_attrs(link.attributes, {"why": "batch"})
    s.status.code, s.status.message = 2, "boom"
    _insert(st, Signal.TRACES, req)

    [r] = rows(st, "SELECT *, toUnixTimestamp64Nano(Timestamp) AS ts, "
                   "arrayMap(t -> toUnixTimestamp64Nano(t), Events.Timestamp) AS ets FROM otel_traces")
    assert r["TraceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert r["SpanId"] == "00f067aa0ba902b7"
    assert r["ParentSpanId"] == "1111111111111111"
    assert r["TraceState"] == "a=b"
    assert r["SpanName"] == "GET /orders/{id}"
    assert r["SpanKind"] == "Client"
    assert r["ServiceName"] == "checkout"
    assert r["ResourceAttributes"] == {"service.name": "checkout", "host.name": "web-1"}
    assert (r["ScopeName"], r["ScopeVersion"]) == ("my.lib", "2.1")
    assert r["ts"] == start
    assert r["Duration"] == 42_000_000
    assert r["StatusCode"] == "Error" and r["StatusMessage"] == "boom"
    assert r["SpanAttributes"] == {
        "str": "x", "empty": "", "int": "42", "neg": "-7", "zero": "0", "t": "true", "f": "false",
        "dbl": "1.5", "third": "0.3333333333333333", "bytes": base64.b64encode(b"\x00\xff").decode(),
        "arr": '["a",1,true]', "map": '{"a":"z","b":2}',
    }
    assert r["Events.Name"] == ["exception"]
    assert r["Events.Attributes"] == [{"exception.type": "ValueError"}]
    assert r["ets"] == [start + 5]
    assert r["Links.TraceId"] == [bytes(range(16)).hex()]
    assert r["Links.SpanId"] == [bytes(range(8)).hex()]
    assert r["Links.Attributes"] == [{"why": "batch"}]
    [lookup] = rows(st, "SELECT * FROM otel_traces_trace_id_ts")
    assert lookup["TraceId"] == r["TraceId"]


def test_kinds_and_status_strings(chdb_storage):
    st = chdb_storage()
    reqs = []
    for kind in range(6):
        req = spans_request("svc", 1, kind=kind, name=f"k{kind}")
        req.resource_spans[0].scope_spans[0].spans[0].status.code = kind % 3
        reqs.append(req)
    _insert(st, Signal.TRACES, *reqs)
    got = {r["SpanName"]: (r["SpanKind"], r["StatusCode"]) for r in rows(st, "SELECT SpanName, SpanKind, StatusCode FROM otel_traces")}
    assert got == {
        "k0": ("Unspecified", "Unset"), "k1": ("Internal", "Ok"), "k2": ("Server", "Error"),
        "k3": ("Client", "Unset"), "k4": ("Producer", "Ok"), "k5": ("Consumer", "Error"),
    }


def test_same_token_twice_writes_once_including_the_lookup_view(chdb_storage):
    st = chdb_storage()
    reqs = [spans_request("svc", 512) for _ in range(50)]  # big enough for parallel reading
    _insert(st, Signal.TRACES, *reqs, token="spool-0-100")
    _insert(st, Signal.TRACES, *reqs, token="spool-0-100")
    assert rows(st, "SELECT count() AS n FROM otel_traces")[0]["n"] == 25_600
    assert rows(st, "SELECT count() AS n FROM otel_traces_trace_id_ts")[0]["n"] == 25_600
    _insert(st, Signal.TRACES, *reqs, token="spool-100-200")  # another batch: written
    assert rows(st, "SELECT count() AS n FROM otel_traces")[0]["n"] == 51_200


def test_log_columns(chdb_storage):
    st = chdb_storage()
    req = logs_request("api", ["plain text", 7, {"msg": "hi", "n": 1}, ["x"]])
    rec = req.resource_logs[0].scope_logs[0].log_records[0]
    rec.trace_id, rec.span_id, rec.flags = bytes(range(16)), bytes(range(8)), 1
    add_attrs(rec.attributes, {"log.file.path": "/var/log/app.log"})
    observed_only = req.resource_logs[0].scope_logs[0].log_records.add()
    observed = time.time_ns() - 10**12
    observed_only.observed_time_unix_nano = observed
    set_value(observed_only.body, "no timestamp")
    _insert(st, Signal.LOGS, req)
    got = rows(st, "SELECT Body, TraceId, SpanId, TraceFlags, SeverityText, SeverityNumber, ServiceName, LogAttributes, "
                   "toUnixTimestamp64Nano(Timestamp) AS ts FROM otel_logs ORDER BY Timestamp")
    bodies = [r["Body"] for r in got]
    assert bodies == ["no timestamp", "plain text", "7", '{"msg":"hi","n":1}', '["x"]']
    assert got[0]["ts"] == observed
    first = got[1]
    assert (first["TraceId"], first["SpanId"], first["TraceFlags"]) == (bytes(range(16)).hex(), bytes(range(8)).hex(), 1)
    assert (first["SeverityText"], first["SeverityNumber"], first["ServiceName"]) == ("INFO", 9, "api")
    assert first["LogAttributes"] == {"log.file.path": "/var/log/app.log"}


def test_every_metric_type(chdb_storage):
    st = chdb_storage()
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    add_attrs(rm.resource.attributes, {"service.name": "m"})
    sm = rm.scope_metrics.add()
    sm.scope.name = "meter"
    now = time.time_ns()

    g = sm.metrics.add(name="temp", unit="C", description="temperature")
    p = g.gauge.data_points.add(time_unix_nano=now, as_double=21.5)
    add_attrs(p.attributes, {"room": "a"})
    ex = p.exemplars.add(time_unix_nano=now, as_int=3, span_id=bytes(8), trace_id=bytes(16))
    add_attrs(ex.filtered_attributes, {"k": "v"})
    s = sm.metrics.add(name="requests")
    s.sum.aggregation_temporality, s.sum.is_monotonic = 2, True
    s.sum.data_points.add(time_unix_nano=now, start_time_unix_nano=now - 10, as_int=12)
    h = sm.metrics.add(name="latency")
    h.histogram.aggregation_temporality = 2
    h.histogram.data_points.add(time_unix_nano=now, count=3, sum=106.0, bucket_counts=[1, 1, 1],
                                explicit_bounds=[2.0, 10.0], min=1.0, max=100.0)
    e = sm.metrics.add(name="exp")
    dp = e.exponential_histogram.data_points.add(time_unix_nano=now, count=4, sum=10.0, scale=2, zero_count=1)
    dp.positive.offset, dp.negative.offset = 3, -1
    dp.positive.bucket_counts.extend([1, 2])
    dp.negative.bucket_counts.extend([0])
    q = sm.metrics.add(name="summary")
    qp = q.summary.data_points.add(time_unix_nano=now, count=10, sum=55.0)
    qp.quantile_values.add(quantile=0.5, value=5.0)
    qp.quantile_values.add(quantile=0.99, value=9.9)
    _insert(st, Signal.METRICS, req)

    [gr] = rows(st, "SELECT * FROM otel_metrics_gauge")
    assert (gr["MetricName"], gr["MetricUnit"], gr["MetricDescription"], gr["Value"]) == ("temp", "C", "temperature", 21.5)
    assert gr["Attributes"] == {"room": "a"} and gr["ServiceName"] == "m" and gr["ScopeName"] == "meter"
    assert gr["Exemplars.Value"] == [3] and gr["Exemplars.FilteredAttributes"] == [{"k": "v"}]
    [sr] = rows(st, "SELECT * FROM otel_metrics_sum")
    assert (sr["Value"], sr["AggregationTemporality"], sr["IsMonotonic"]) == (12, 2, True)
    [hr] = rows(st, "SELECT * FROM otel_metrics_histogram")
    assert (hr["Count"], hr["Sum"], hr["BucketCounts"], hr["ExplicitBounds"], hr["Min"], hr["Max"]) == (3, 106, [1, 1, 1], [2, 10], 1, 100)
    [er] = rows(st, "SELECT * FROM otel_metrics_exponential_histogram")
    assert (er["Count"], er["Scale"], er["ZeroCount"], er["PositiveOffset"], er["PositiveBucketCounts"],
            er["NegativeOffset"], er["NegativeBucketCounts"]) == (4, 2, 1, 3, [1, 2], -1, [0])
    [qr] = rows(st, "SELECT * FROM otel_metrics_summary")
    assert (qr["Count"], qr["Sum"], qr["ValueAtQuantiles.Quantile"], qr["ValueAtQuantiles.Value"]) == (10, 55, [0.5, 0.99], [5, 9.9])


def test_one_request_with_an_array_value_among_many_writes_every_row_once(chdb_storage):
    st = chdb_storage()
    reqs = [spans_request("svc", 200) for _ in range(10)]
    reqs[7].resource_spans[0].scope_spans[0].spans[3].attributes.add(key="tags").value.array_value.values.add().string_value = "x"
    _insert(st, Signal.TRACES, *reqs)
    assert rows(st, "SELECT count() AS n FROM otel_traces")[0]["n"] == 2000
    assert rows(st, "SELECT SpanAttributes['tags'] AS t FROM otel_traces WHERE mapContains(SpanAttributes, 'tags')") == [{"t": '["x"]'}]


def test_metrics_with_a_map_value_in_one_table_only_are_not_doubled(chdb_storage):
    st = chdb_storage()
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    add_attrs(rm.resource.attributes, {"service.name": "m"})
    sm = rm.scope_metrics.add()
    now = time.time_ns()
    sm.metrics.add(name="g").gauge.data_points.add(time_unix_nano=now, as_double=1.0)
    p = sm.metrics.add(name="h").histogram.data_points.add(time_unix_nano=now, count=1, sum=1.0)
    add_attrs(p.attributes, {"labels": {"k": "v"}})
    _insert(st, Signal.METRICS, req)
    assert rows(st, "SELECT count() AS n FROM otel_metrics_gauge")[0]["n"] == 1
    assert rows(st, "SELECT Attributes FROM otel_metrics_histogram") == [{"Attributes": {"labels": '{"k":"v"}'}}]
