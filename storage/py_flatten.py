"""Flatten OTLP requests to columns in Python, for inserts into a ClickHouse *server*.

The embedded path (:mod:`.engine_flatten`) lets the engine read our request file with ``FORMAT
Protobuf``; a server cannot read our local file, and ``INSERT … FROM input() FORMAT Protobuf``
would need our schema file installed in every server's ``format_schema_path``. So the native
backend flattens here and sends columns (clickhouse-driver columnar insert, compressed blocks).

Every value is rendered as the engine path renders it (tests compare both row for row): ids as
lower-case hex, ``SpanKind`` ``Server``…, ``StatusCode`` ``Unset``/``Ok``/``Error``, attribute values
as strings — ints in decimal, bools ``true``/``false``, bytes in base64, doubles as ClickHouse's
``toString(Float64)``, arrays and maps as JSON (:func:`stackeye.storage.complex_values.to_json`).
Timestamps are nanosecond integers (clickhouse-driver sends ints to ``DateTime64(9)`` as ticks).

Usage::

    tables = flatten(Signal.TRACES, [payload, ...])   # {"otel_traces": {"TraceId": [...], ...}}
"""
from __future__ import annotations

import base64
import decimal
import math
from typing import Sequence

from stackeye.core.signals import Signal

SPAN_KINDS = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
STATUS_CODES = ("Unset", "Ok", "Error")
METRIC_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")
_INT64 = 1 << 64


def float_str(x: float) -> str:
    """``toString(Float64)`` of ClickHouse: shortest round-trip digits, plain notation for
    1e-7 < |x| < 1e21 (``0.00001``, ``100000000000000000000``), else ``1e21`` / ``1e-7`` / ``2.5e-10``."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    sign, digits, exp = decimal.Decimal(repr(x)).as_tuple()
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    exp += len("".join(map(str, digits))) - len(ds)  # value = ds × 10^exp
    k = len(ds)
    n = exp + k  # value = 0.ds × 10^n
    if k <= n <= 21:
        out = ds + "0" * (n - k)
    elif 0 < n <= 21:
        out = ds[:n] + "." + ds[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + ds
    else:
        e = n - 1
        out = ds[0] + ("." + ds[1:] if k > 1 else "") + "e" + ("-" if e < 0 else "") + str(abs(e))
    return ("-" if sign else "") + out


def any_str(v) -> str:
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "int_value":
        return str(v.int_value)
    if kind == "double_value":
        return float_str(v.double_value)
    if kind == "bool_value":
        return "true" if v.bool_value else "false"
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    if kind in ("array_value", "kvlist_value"):
        from stackeye.storage.complex_values import to_json

        return to_json(v)
    return ""


def attrs(kvs) -> dict[str, str]:
    return {kv.key: any_str(kv.value) for kv in kvs}


def _ns(v: int) -> int:
    # fromUnixTimestamp64Nano(toInt64(x)): a UInt64 past 2^63 wraps like the engine's toInt64
    return v - _INT64 if v >= 1 << 63 else v


def _kind(code: int, names: tuple[str, ...]) -> str:
    return names[min(max(code, 0), len(names) - 1)]


class _Columns(dict):
    def __init__(self, names: Sequence[str]):
        super().__init__((n, []) for n in names)


TRACE_COLUMNS = (
    "Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind", "ServiceName",
    "ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes", "Duration", "StatusCode", "StatusMessage",
    "Events.Timestamp", "Events.Name", "Events.Attributes",
    "Links.TraceId", "Links.SpanId", "Links.TraceState", "Links.Attributes",
)
LOG_COLUMNS = (
    "Timestamp", "TraceId", "SpanId", "TraceFlags", "SeverityText", "SeverityNumber", "ServiceName", "Body",
    "ResourceSchemaUrl", "ResourceAttributes", "ScopeSchemaUrl", "ScopeName", "ScopeVersion", "ScopeAttributes",
    "LogAttributes",
)
_METRIC_HEAD = (
    "ResourceAttributes", "ResourceSchemaUrl", "ScopeName", "ScopeVersion", "ScopeAttributes",
    "ScopeDroppedAttrCount", "ScopeSchemaUrl", "ServiceName", "MetricName", "MetricDescription", "MetricUnit",
    "Attributes", "StartTimeUnix", "TimeUnix", "Flags",
)
_EXEMPLARS = ("Exemplars.FilteredAttributes", "Exemplars.TimeUnix", "Exemplars.Value", "Exemplars.SpanId",
              "Exemplars.TraceId")
METRIC_COLUMNS = {
    "gauge": _METRIC_HEAD + ("Value",) + _EXEMPLARS,
    "sum": _METRIC_HEAD + ("Value",) + _EXEMPLARS + ("AggregationTemporality", "IsMonotonic"),
    "histogram": _METRIC_HEAD + ("Count", "Sum", "BucketCounts", "ExplicitBounds") + _EXEMPLARS
    + ("Min", "Max", "AggregationTemporality"),
    "exponential_histogram": _METRIC_HEAD + ("Count", "Sum", "Scale", "ZeroCount", "PositiveOffset",
                                             "PositiveBucketCounts", "NegativeOffset", "NegativeBucketCounts")
    + _EXEMPLARS + ("Min", "Max", "AggregationTemporality"),
    "summary": _METRIC_HEAD + ("Count", "Sum", "ValueAtQuantiles.Quantile", "ValueAtQuantiles.Value"),
}


def _traces(requests) -> dict[str, _Columns]:
    c = _Columns(TRACE_COLUMNS)
    ts, tid, sid, pid, tstate, name, kind, svc, rattr, sname, sver, sattr, dur, status, smsg, \
        ev_ts, ev_name, ev_attr, l_tid, l_sid, l_state, l_attr = c.values()
    for req in requests:
        for rs in req.resource_spans:
            res = attrs(rs.resource.attributes)
            service = res.get("service.name", "")
            for ss in rs.scope_spans:
                scope_name, scope_version = ss.scope.name, ss.scope.version
                for s in ss.spans:
                    start, end = s.start_time_unix_nano, s.end_time_unix_nano
                    ts.append(_ns(start))
                    tid.append(s.trace_id.hex())
                    sid.append(s.span_id.hex())
                    pid.append(s.parent_span_id.hex())
                    tstate.append(s.trace_state)
                    name.append(s.name)
                    kind.append(_kind(s.kind, SPAN_KINDS))
                    svc.append(service)
                    rattr.append(res)
                    sname.append(scope_name)
                    sver.append(scope_version)
                    sattr.append(attrs(s.attributes))
                    dur.append(end - start if end > start else 0)
                    status.append(_kind(s.status.code, STATUS_CODES))
                    smsg.append(s.status.message)
                    ev_ts.append([_ns(e.time_unix_nano) for e in s.events])
                    ev_name.append([e.name for e in s.events])
                    ev_attr.append([attrs(e.attributes) for e in s.events])
                    l_tid.append([lk.trace_id.hex() for lk in s.links])
                    l_sid.append([lk.span_id.hex() for lk in s.links])
                    l_state.append([lk.trace_state for lk in s.links])
                    l_attr.append([attrs(lk.attributes) for lk in s.links])
    return {"otel_traces": c}


def _logs(requests) -> dict[str, _Columns]:
    c = _Columns(LOG_COLUMNS)
    (ts, tid, sid, flags, stext, snum, svc, body, rurl, rattr, surl, sname, sver, sattr, lattr) = c.values()
    for req in requests:
        for rl in req.resource_logs:
            res = attrs(rl.resource.attributes)
            service = res.get("service.name", "")
            for sl in rl.scope_logs:
                scope_attrs = attrs(sl.scope.attributes)
                for r in sl.log_records:
                    ts.append(_ns(r.time_unix_nano if r.time_unix_nano != 0 else r.observed_time_unix_nano))
                    tid.append(r.trace_id.hex())
                    sid.append(r.span_id.hex())
                    flags.append(r.flags & 255)
                    stext.append(r.severity_text)
                    snum.append(min(max(r.severity_number, 0), 255))
                    svc.append(service)
                    body.append(any_str(r.body))
                    rurl.append(rl.schema_url)
                    rattr.append(res)
                    surl.append(sl.schema_url)
                    sname.append(sl.scope.name)
                    sver.append(sl.scope.version)
                    sattr.append(scope_attrs)
                    lattr.append(attrs(r.attributes))
    return {"otel_logs": c}


def _number(p, as_double_field: str = "as_double") -> float:
    return float(p.as_int) if p.WhichOneof("value") == "as_int" else getattr(p, as_double_field)


def _metrics(requests) -> dict[str, _Columns]:
    out = {"otel_metrics_" + k: _Columns(METRIC_COLUMNS[k]) for k in METRIC_KINDS}
    for req in requests:
        for rm in req.resource_metrics:
            res = attrs(rm.resource.attributes)
            service = res.get("service.name", "")
            for sm in rm.scope_metrics:
                scope_attrs = attrs(sm.scope.attributes)
                head = (res, rm.schema_url, sm.scope.name, sm.scope.version, scope_attrs,
                        sm.scope.dropped_attributes_count, sm.schema_url, service)
                for m in sm.metrics:
                    kind = m.WhichOneof("data")
                    if kind is None:
                        continue
                    data = getattr(m, kind)
                    c = out["otel_metrics_" + kind]
                    for p in data.data_points:
                        row = head + (m.name, m.description, m.unit, attrs(p.attributes),
                                      _ns(p.start_time_unix_nano), _ns(p.time_unix_nano), p.flags)
                        for col, value in zip(_METRIC_HEAD, row):
                            c[col].append(value)
                        if kind in ("gauge", "sum"):
                            c["Value"].append(_number(p))
                        else:
                            c["Count"].append(p.count)
                            c["Sum"].append(p.sum)
                        if kind == "sum":
                            c["AggregationTemporality"].append(data.aggregation_temporality)
                            c["IsMonotonic"].append(data.is_monotonic)
                        elif kind == "histogram":
                            c["BucketCounts"].append(list(p.bucket_counts))
                            c["ExplicitBounds"].append(list(p.explicit_bounds))
                        elif kind == "exponential_histogram":
                            c["Scale"].append(p.scale)
                            c["ZeroCount"].append(p.zero_count)
                            c["PositiveOffset"].append(p.positive.offset)
                            c["PositiveBucketCounts"].append(list(p.positive.bucket_counts))
                            c["NegativeOffset"].append(p.negative.offset)
                            c["NegativeBucketCounts"].append(list(p.negative.bucket_counts))
                        elif kind == "summary":
                            c["ValueAtQuantiles.Quantile"].append([q.quantile for q in p.quantile_values])
                            c["ValueAtQuantiles.Value"].append([q.value for q in p.quantile_values])
                        if kind in ("histogram", "exponential_histogram"):
                            c["Min"].append(p.min)
                            c["Max"].append(p.max)
                            c["AggregationTemporality"].append(data.aggregation_temporality)
                        if kind != "summary":
                            ex = p.exemplars
                            c["Exemplars.FilteredAttributes"].append([attrs(x.filtered_attributes) for x in ex])
                            c["Exemplars.TimeUnix"].append([_ns(x.time_unix_nano) for x in ex])
                            c["Exemplars.Value"].append([_number(x) for x in ex])
                            c["Exemplars.SpanId"].append([x.span_id.hex() for x in ex])
                            c["Exemplars.TraceId"].append([x.trace_id.hex() for x in ex])
    return out


_FLATTEN = {Signal.TRACES: _traces, Signal.LOGS: _logs, Signal.METRICS: _metrics}


def flatten(signal: Signal, payloads: Sequence[bytes]) -> dict[str, dict[str, list]]:
    """``{table: {column: values}}`` for the requests; tables with no rows are left out.

    Raises ``google.protobuf.message.DecodeError`` for a payload that is not the signal's request.
    """
    parse = signal.request_type.FromString
    tables = _FLATTEN[signal]([parse(p) for p in payloads])
    return {t: cols for t, cols in tables.items() if cols and next(iter(cols.values()))}


def row_count(columns: dict[str, list]) -> int:
    return len(next(iter(columns.values()))) if columns else 0
