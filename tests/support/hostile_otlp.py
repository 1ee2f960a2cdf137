"""Valid OTLP requests of every shape (the mutation seeds) and hostile ones built on purpose
(the classes a fuzzer reaches slowly: deep nesting, NaN, extreme timestamps, duplicate keys, huge
values), shared by tests/fuzz and bench/fuzz.py."""
from __future__ import annotations

import time

from opentelemetry.proto.common.v1 import common_pb2
from stackeye.core.signals import Signal

from .otlp_builders import add_attrs, logs_request, metrics_request, set_value, spans_request

U64_MAX = 2**64 - 1
TIMESTAMPS = (0, 1, 2**63 - 1, 2**63, U64_MAX)
ODD_VALUES = ("", "x", "é€😀", "'\\\"", "\x00", 0, -2**63, 2**63 - 1, 0.0, float("nan"), float("inf"), -float("inf"),
              True, b"", b"\x00\xff", [1, "a", [2.5]], {"k": {"n": [True]}})


def trace_seeds() -> list[bytes]:
    out = [spans_request("seed", 3, attrs={"s": "v", "i": 7, "d": 1.5, "b": True, "y": b"\x01"}).SerializeToString(),
           spans_request("seed", 1, attrs={"arr": [1, "two"], "map": {"k": "v"}}).SerializeToString()]
    req = spans_request("seed", 2)
    span = req.resource_spans[0].scope_spans[0].spans[0]
    span.parent_span_id, span.trace_state = b"\x01" * 8, "k=v"
    span.status.code, span.status.message = 2, "boom"
    event = span.events.add(time_unix_nano=span.start_time_unix_nano + 5, name="exception")
    add_attrs(event.attributes, {"exception.type": "E"})
    link = span.links.add(trace_id=b"\x02" * 16, span_id=b"\x03" * 8, trace_state="a=b")
    add_attrs(link.attributes, {"l": 1})
    out.append(req.SerializeToString())
    return out


def log_seeds() -> list[bytes]:
    req = logs_request("seed", ["line", 42, 2.5, True, b"\x00\x01", ["a", 1], {"k": "v"}])
    rec = req.resource_logs[0].scope_logs[0].log_records[0]
    rec.trace_id, rec.span_id, rec.flags = b"\x04" * 16, b"\x05" * 8, 1
    add_attrs(rec.attributes, {"code.lineno": 3})
    return [req.SerializeToString(), logs_request("seed", ["x"]).SerializeToString()]


def metric_seeds() -> list[bytes]:
    req = metrics_request("seed")
    sm = req.resource_metrics[0].scope_metrics.add()
    sm.scope.name = "seed"
    now = 1_700_000_000_000_000_000
    gauge = sm.metrics.add(name="g", unit="1").gauge.data_points.add(time_unix_nano=now, as_double=1.5)
    add_attrs(gauge.attributes, {"a": "b"})
    gauge.exemplars.add(time_unix_nano=now, as_int=3, span_id=b"\x01" * 8, trace_id=b"\x02" * 16)
    total = sm.metrics.add(name="s").sum
    total.is_monotonic, total.aggregation_temporality = True, 2
    total.data_points.add(time_unix_nano=now, as_int=5)
    hist = sm.metrics.add(name="h").histogram
    hist.aggregation_temporality = 1
    hist.data_points.add(time_unix_nano=now, count=3, sum=6.0, bucket_counts=[1, 2], explicit_bounds=[1.0], min=1, max=3)
    exp = sm.metrics.add(name="e").exponential_histogram.data_points.add(time_unix_nano=now, count=2, scale=3, zero_count=1)
    exp.positive.offset, exp.negative.offset = 1, -1
    exp.positive.bucket_counts.extend([1])
    summary = sm.metrics.add(name="q").summary.data_points.add(time_unix_nano=now, count=1, sum=2.0)
    summary.quantile_values.add(quantile=0.5, value=2.0)
    return [req.SerializeToString()]


SEEDS = {Signal.TRACES: trace_seeds, Signal.LOGS: log_seeds, Signal.METRICS: metric_seeds}


def nested(depth: int, kind: str = "kvlist") -> common_pb2.AnyValue:
    """An AnyValue ``depth`` arrays or maps deep around a string."""
    value = common_pb2.AnyValue(string_value="leaf")
    for _ in range(depth):
        outer = common_pb2.AnyValue()
        if kind == "kvlist":
            outer.kvlist_value.values.add(key="k").value.CopyFrom(value)
        else:
            outer.array_value.values.add().CopyFrom(value)
        value = outer
    return value


def hostile_span(service: str, *, attrs: dict | None = None, start: int | None = None, end: int | None = None,
                 deep: tuple[int, str] | None = None, duplicate_key: bool = False) -> bytes:
    req = spans_request(service, 1, attrs=attrs or {"i": 0})
    span = req.resource_spans[0].scope_spans[0].spans[0]
    if start is not None:
        span.start_time_unix_nano = start
    if end is not None:
        span.end_time_unix_nano = end
    if deep is not None:
        span.attributes.add(key="deep").value.CopyFrom(nested(*deep))
    if duplicate_key:
        span.attributes.add(key="i").value.string_value = "again"
    return req.SerializeToString()


def hostile_log(service: str, body, *, time_ns: int | None = None) -> bytes:
    req = logs_request(service, ["placeholder"])
    rec = req.resource_logs[0].scope_logs[0].log_records[0]
    rec.body.Clear()
    set_value(rec.body, body)
    if time_ns is not None:
        rec.time_unix_nano = time_ns
    return req.SerializeToString()


def hostile_gauge(service: str, value: float, *, time_ns: int | None = None) -> bytes:
    req = metrics_request(service)
    sm = req.resource_metrics[0].scope_metrics.add()
    sm.metrics.add(name="hostile").gauge.data_points.add(time_unix_nano=time.time_ns() if time_ns is None else time_ns,
                                                          as_double=value)
    return req.SerializeToString()
