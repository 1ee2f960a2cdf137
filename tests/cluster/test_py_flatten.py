"""The server path's Python flattener writes exactly the rows the chDB engine path writes.

The same requests go through chDB (``INSERT … SELECT … FORMAT Protobuf``, in-process) and through
:func:`py_flatten.flatten`; every column of every row must be equal. (The Debian ClickHouse server is
too old for the schema, so the columns the native backend would send are compared with what chDB
stored.)
"""
from __future__ import annotations

import json
import math
import random
import struct
import time

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from stackeye.core.signals import Signal
from stackeye.storage import py_flatten
from stackeye.storage.complex_values import normalize
from support.otlp_builders import add_attrs, logs_request, set_value, spans_request

_TIME_COLUMNS = {"Timestamp", "StartTimeUnix", "TimeUnix"}
_TIME_ARRAYS = {"Events.Timestamp", "Exemplars.TimeUnix"}


def _select(column: str) -> str:
    quoted = f"`{column}`"
    if column in _TIME_COLUMNS:
        return f"toUnixTimestamp64Nano({quoted})"
    if column in _TIME_ARRAYS:
        return f"arrayMap(t -> toUnixTimestamp64Nano(t), {quoted})"
    return quoted


def _num(v):
    """Numbers compared by value: chDB's JSON prints an integral Float64 as ``8``, Python as ``8.0``."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, list):
        return [_num(x) for x in v]
    if isinstance(v, dict):
        return {k: _num(x) for k, x in v.items()}
    return v


def _floats(row: list, float_columns: list[int]) -> list:
    # JSON round trip (same types as chDB's JSON output); Float64 columns compared as floats
    row = json.loads(json.dumps(row))
    for i in float_columns:
        row[i] = _num(row[i])
    return row


def _canon(rows: list[list]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


def assert_same_rows(storage, signal: Signal, requests) -> int:
    payloads = [normalize(signal, r.SerializeToString()) for r in requests]
    storage.insert_otlp(signal, payloads, f"cmp-{signal.name}")
    ours = py_flatten.flatten(signal, [r.SerializeToString() for r in requests])  # un-normalized: same JSON
    checked = 0
    for table, cols in ours.items():
        names = list(cols)
        res = storage.query(f"SELECT {', '.join(_select(n) for n in names)} FROM {table}")
        floats = [i for i, t in enumerate(res.types) if "Float64" in t]
        engine_rows = [_floats(list(r), floats) for r in res.rows]
        python_rows = [_floats(list(r), floats) for r in zip(*(cols[n] for n in names))]
        assert len(engine_rows) == len(python_rows), table
        got, want = _canon(python_rows), _canon(engine_rows)
        if got != want:
            for g, w in zip(got, want):
                if g != w:
                    for n, a, b in zip(names, json.loads(g), json.loads(w)):
                        assert a == b, f"{table}.{n}: python {a!r} != engine {b!r}"
        assert got == want, table
        checked += len(python_rows)
    return checked


def _doubles(n: int, seed: int = 7) -> list[float]:
    rnd = random.Random(seed)
    out = [0.0, -0.0, 1.5, 0.1, 1e20, 1e21, 1e-7, 1e-6, 123456.789, 5e-324, 1.7976931348623157e308, 1 / 3, -2.5e-10]
    while len(out) < n:
        v = struct.unpack("<d", rnd.randbytes(8))[0]
        if math.isfinite(v):
            out.append(v)
        out.append(rnd.uniform(-1e6, 1e6) * 10 ** rnd.randint(-12, 12))
    return out[:n]


def test_spans_match_the_engine_path(chdb_storage):
    st = chdb_storage()
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    add_attrs(rs.resource.attributes, {"service.name": "checkout", "host.name": "web-1", "pid": 42})
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = "my.lib", "2.1"
    now = (time.time_ns() // 10**9 - 60) * 10**9
    doubles = _doubles(200)
    for i in range(200):
        s = ss.spans.add()
        s.trace_id, s.span_id = random.randbytes(16), random.randbytes(8)
        if i % 3:
            s.parent_span_id = random.randbytes(8)
        s.trace_state = "a=b" if i % 2 else ""
        s.name = f"op {i % 7} ünïcode"
        s.kind = i % 8  # past 5 clamps like the engine
        s.start_time_unix_nano = now + i
        s.end_time_unix_nano = now + i + (i * 1000 if i % 5 else 0)
        add_attrs(s.attributes, {
            "str": "x" * (i % 4), "int": i * -12345678901, "bool": bool(i % 2), "dbl": doubles[i],
            "bytes": bytes([i % 256]) * (i % 5), "arr": ["a", i, True, 1.5], "map": {"b": i, "a": {"z": "y"}},
        })
        s.attributes.add(key="unset")  # AnyValue with nothing set
        s.status.code, s.status.message = i % 4, "boom" if i % 4 == 2 else ""
        for j in range(i % 3):
            ev = s.events.add(name=f"ev{j}", time_unix_nano=now + j)
            add_attrs(ev.attributes, {"j": j, "d": doubles[(i + j) % 200]})
        for j in range(i % 2):
            lk = s.links.add(trace_id=random.randbytes(16), span_id=random.randbytes(8), trace_state="k=v")
            add_attrs(lk.attributes, {"why": "batch"})
    second = spans_request("other", 50, attrs={"http.status_code": 200, "ok": True})
    assert assert_same_rows(st, Signal.TRACES, [req, second]) == 250


def test_logs_match_the_engine_path(chdb_storage):
    st = chdb_storage()
    req = logs_request("api", ["plain", 7, 2.5, True, b"\x00\x01", {"msg": "hi", "n": 1}, ["x", 2], ""])
    sl = req.resource_logs[0].scope_logs[0]
    sl.scope.name, sl.schema_url = "logger", "https://schema/1"
    add_attrs(sl.scope.attributes, {"scope.attr": 1})
    req.resource_logs[0].schema_url = "https://schema/r"
    for i, rec in enumerate(sl.log_records):
        rec.trace_id, rec.span_id, rec.flags = random.randbytes(16), random.randbytes(8), 257 + i
        rec.severity_number = [0, 9, 17, 300, -5][i % 5] if i % 5 != 4 else 24
        add_attrs(rec.attributes, {"i": i, "f": i / 7})
    observed = sl.log_records.add(observed_time_unix_nano=time.time_ns() - 10**12)
    set_value(observed.body, "no timestamp")
    assert assert_same_rows(st, Signal.LOGS, [req]) == 9


def test_every_metric_kind_matches_the_engine_path(chdb_storage):
    st = chdb_storage()
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.schema_url = "https://schema/r"
    add_attrs(rm.resource.attributes, {"service.name": "m", "k8s.pod": "p-1"})
    sm = rm.scope_metrics.add()
    sm.scope.name, sm.scope.version, sm.scope.dropped_attributes_count = "meter", "0.1", 3
    sm.schema_url = "https://schema/s"
    add_attrs(sm.scope.attributes, {"lib": "otel"})
    now = time.time_ns()
    doubles = _doubles(40, seed=3)
    g = sm.metrics.add(name="temp", unit="C", description="temperature")
    for i in range(10):
        p = g.gauge.data_points.add(time_unix_nano=now + i, flags=i % 2)
        if i % 2:
            p.as_int = -i * 10**12
        else:
            p.as_double = doubles[i]
        add_attrs(p.attributes, {"room": f"r{i}", "d": doubles[i + 10]})
        ex = p.exemplars.add(time_unix_nano=now, span_id=random.randbytes(8), trace_id=random.randbytes(16))
        ex.as_int = i
        add_attrs(ex.filtered_attributes, {"k": "v"})
        p.exemplars.add(time_unix_nano=now, as_double=doubles[i + 20])
    s = sm.metrics.add(name="requests")
    s.sum.aggregation_temporality, s.sum.is_monotonic = 2, True
    s.sum.data_points.add(time_unix_nano=now, start_time_unix_nano=now - 10, as_int=12)
    s.sum.data_points.add(time_unix_nano=now, start_time_unix_nano=now - 10, as_double=0.5)
    h = sm.metrics.add(name="latency")
    h.histogram.aggregation_temporality = 1
    h.histogram.data_points.add(time_unix_nano=now, count=3, sum=106.0, bucket_counts=[1, 1, 1],
                                explicit_bounds=[2.0, 10.0], min=1.0, max=100.0)
    h.histogram.data_points.add(time_unix_nano=now, count=0)  # no sum/min/max
    e = sm.metrics.add(name="exp")
    dp = e.exponential_histogram.data_points.add(time_unix_nano=now, count=4, sum=10.0, scale=-2, zero_count=1)
    dp.positive.offset, dp.negative.offset = 3, -1
    dp.positive.bucket_counts.extend([1, 2])
    dp.negative.bucket_counts.extend([0])
    dp.exemplars.add(time_unix_nano=now, as_double=1.25)
    q = sm.metrics.add(name="summary")
    qp = q.summary.data_points.add(time_unix_nano=now, count=10, sum=55.0)
    qp.quantile_values.add(quantile=0.5, value=5.0)
    qp.quantile_values.add(quantile=0.99, value=doubles[30])
    sm.metrics.add(name="empty")  # no data: no rows on either path
    assert assert_same_rows(st, Signal.METRICS, [req]) == 16


def test_doubles_render_as_clickhouse_to_string(chdb_storage):
    st = chdb_storage(migrate=False)
    values = _doubles(2000, seed=11)
    hexes = ",".join(f"'{struct.pack('<d', v).hex()}'" for v in values)
    res = st.query(f"SELECT toString(reinterpretAsFloat64(unhex(h))) FROM (SELECT arrayJoin([{hexes}]) AS h)")
    engine = [r[0] for r in res.rows]
    assert [py_flatten.float_str(v) for v in values] == engine
    assert [py_flatten.float_str(v) for v in (float("inf"), float("-inf"), float("nan"))] == ["inf", "-inf", "nan"]
