"""Flatten OTLP inside ClickHouse: ``INSERT … SELECT … ARRAY JOIN`` over the raw request bytes.

The writer hands the engine a file of length-delimited ``Export*ServiceRequest`` messages; one
statement per target table reads it with ``FORMAT Protobuf`` (schema: :mod:`.otlp_schema`), walks
``resource → scope → item`` with ``ARRAY JOIN`` and builds the exporter's columns in C++. No
per-span Python runs on this path (see shared/notes: ≈ 250k spans/s vs ≈ 85k flattening in Python).

Values are rendered as the OpenTelemetry Collector's ClickHouse exporter renders them: ids as
lower-case hex, kinds/status as ``Server``/``Error``…, attribute values as strings (ints in
decimal, bools ``true``/``false``, bytes in base64; arrays and maps as JSON, rendered in Python
by :mod:`stackeye.storage.complex_values` for the rare batches that carry them).
"""
from __future__ import annotations

import dataclasses

from stackeye.core.signals import Signal
from stackeye.storage.attribute_limits import AttributeLimits
from stackeye.storage.otlp_schema import ROOT_MESSAGES

# --- structures: the slice of each request the tables need, named after the proto fields -------
_ANY = (
    "Tuple(value Enum8('none' = 0, 'string_value' = 1, 'bool_value' = 2, 'int_value' = 3, "
    "'double_value' = 4, 'array_value' = 5, 'kvlist_value' = 6, 'bytes_value' = 7, "
    "'string_value_strindex' = 8), string_value String, bool_value Bool, int_value Int64, "
    "double_value Float64, array_value String, kvlist_value String, bytes_value String)"
)
_KV = f"Array(Tuple(key String, value {_ANY}))"
_RESOURCE = f"resource Tuple(attributes {_KV})"
_SCOPE = f"scope Tuple(name String, version String, attributes {_KV}, dropped_attributes_count UInt32)"

_SPAN = (
    "Tuple(trace_id String, span_id String, trace_state String, parent_span_id String, name String, "
    "kind Int32, start_time_unix_nano UInt64, end_time_unix_nano UInt64, "
    f"attributes {_KV}, events Array(Tuple(time_unix_nano UInt64, name String, attributes {_KV})), "
    f"links Array(Tuple(trace_id String, span_id String, trace_state String, attributes {_KV})), "
    "status Tuple(message String, code Int32))"
)
_TRACES = (
    f"resource_spans Array(Tuple({_RESOURCE}, scope_spans Array(Tuple({_SCOPE}, spans Array({_SPAN}), "
    "schema_url String)), schema_url String))"
)
_LOG = (
    "Tuple(time_unix_nano UInt64, observed_time_unix_nano UInt64, severity_number Int32, severity_text String, "
    f"body {_ANY}, attributes {_KV}, flags UInt32, trace_id String, span_id String)"
)
_LOGS = (
    f"resource_logs Array(Tuple({_RESOURCE}, scope_logs Array(Tuple({_SCOPE}, log_records Array({_LOG}), "
    "schema_url String)), schema_url String))"
)
_EXEMPLARS = (
    f"exemplars Array(Tuple(filtered_attributes {_KV}, time_unix_nano UInt64, "
    "value Enum8('none' = 0, 'as_double' = 3, 'as_int' = 6), as_double Float64, as_int Int64, "
    "span_id String, trace_id String))"
)
_POINT_HEAD = f"attributes {_KV}, start_time_unix_nano UInt64, time_unix_nano UInt64, flags UInt32"
_POINTS = {
    "gauge": f"Tuple(data_points Array(Tuple({_POINT_HEAD}, value Enum8('none' = 0, 'as_double' = 4, 'as_int' = 6), as_double Float64, as_int Int64, {_EXEMPLARS})))",
    "sum": f"Tuple(data_points Array(Tuple({_POINT_HEAD}, value Enum8('none' = 0, 'as_double' = 4, 'as_int' = 6), as_double Float64, as_int Int64, {_EXEMPLARS})), aggregation_temporality Int32, is_monotonic Bool)",
    "histogram": f"Tuple(data_points Array(Tuple({_POINT_HEAD}, count UInt64, sum Float64, bucket_counts Array(UInt64), explicit_bounds Array(Float64), min Float64, max Float64, {_EXEMPLARS})), aggregation_temporality Int32)",
    "exponential_histogram": f"Tuple(data_points Array(Tuple({_POINT_HEAD}, count UInt64, sum Float64, scale Int32, zero_count UInt64, positive Tuple(offset Int32, bucket_counts Array(UInt64)), negative Tuple(offset Int32, bucket_counts Array(UInt64)), min Float64, max Float64, {_EXEMPLARS})), aggregation_temporality Int32)",
    "summary": f"Tuple(data_points Array(Tuple({_POINT_HEAD}, count UInt64, sum Float64, quantile_values Array(Tuple(quantile Float64, value Float64)))))",
}


def _metrics_structure(kind: str) -> str:
    metric = f"Tuple(name String, description String, unit String, {kind} {_POINTS[kind]})"
    return (
        f"resource_metrics Array(Tuple({_RESOURCE}, scope_metrics Array(Tuple({_SCOPE}, metrics Array({metric}), "
        "schema_url String)), schema_url String))"
    )


# --- expressions -----------------------------------------------------------------------------
# An array or map value stops the insert with this message (nothing is written: a batch is one
# block); the storage then renders those values as JSON in Python and inserts again. Detecting
# them here costs nothing on the common path, unlike scanning every request in Python first.
COMPLEX_VALUE_MARK = "stackeye: array or map attribute values present"

def any_value_str(v: str) -> str:
    """SQL rendering an AnyValue tuple expression as the exporter's string."""
    return (
        f"multiIf({v}.value = 'string_value', {v}.string_value, "
        f"{v}.value = 'int_value', toString({v}.int_value), "
        f"{v}.value = 'double_value', toString({v}.double_value), "
        f"{v}.value = 'bool_value', if({v}.bool_value, 'true', 'false'), "
        f"{v}.value = 'bytes_value', base64Encode({v}.bytes_value), "
        f"{v}.value IN ('array_value', 'kvlist_value'), toString(throwIf({v}.value IN ('array_value', 'kvlist_value'), "
        f"'{COMPLEX_VALUE_MARK}')), '')"
    )


# Attributes over the limits (stackeye.storage.attribute_limits) stop the insert with this message;
# the storage then cuts those requests in Python, counts the cuts and inserts again.
ATTRIBUTE_LIMIT_MARK = "stackeye: attributes over the attribute limits"


def _within_limits(kvs: str, var: str) -> str:
    """0, or the insert stops with ATTRIBUTE_LIMIT_MARK. The ``{max_*}`` placeholders are
    :meth:`AttributeLimits.placeholders`, filled in by :meth:`Statement.render`."""
    return (
        f"throwIf(length({kvs}) > {{max_attributes}} OR arrayExists({var} -> length({var}.key) > {{max_key_bytes}} "
        f"OR length({var}.value.string_value) > {{max_value_bytes}} "
        f"OR length({var}.value.bytes_value) > {{max_value_bytes}}, {kvs}), '{ATTRIBUTE_LIMIT_MARK}')"
    )


def attr_map(kvs: str, var: str = "kv") -> str:
    # tuple(map, check).1 is the map itself (no copy) and still evaluates the check
    return (
        f"tuple(CAST(mapFromArrays(arrayMap({var} -> {var}.key, {kvs}), "
        f"arrayMap({var} -> {any_value_str(var + '.value')}, {kvs})), 'Map(LowCardinality(String), String)'), "
        f"{_within_limits(kvs, var)}).1"
    )


def _hex(expr: str) -> str:
    return f"lower(hex({expr}))"


def _ts(expr: str) -> str:
    return f"fromUnixTimestamp64Nano(toInt64({expr}))"


_SPAN_KIND = "['Unspecified', 'Internal', 'Server', 'Client', 'Producer', 'Consumer']"
_STATUS = "['Unset', 'Ok', 'Error']"


@dataclasses.dataclass(frozen=True)
class Statement:
    table: str
    sql: str  # with {input}, {schema}, {token}, {tenant} and the attribute limits' {max_*} placeholders

    def render(self, input_path: str, schema_path: str, token: str,
               limits: AttributeLimits = AttributeLimits(), tenant: str = "default") -> str:
        sql = self.sql
        for name, value in (("input", input_path), ("schema", schema_path), ("token", token)):
            if "'" in value or "\\" in value:
                raise ValueError(f"{name} must not contain quotes or backslashes: {value!r}")
            sql = sql.replace("{" + name + "}", value)
        for name, value in limits.placeholders().items():
            sql = sql.replace("{" + name + "}", value)
        return sql.replace("{tenant}", tenant_literal(tenant))  # last: a tenant's text is not searched


def tenant_literal(tenant: str) -> str:
    """The batch's tenant as a SQL string literal: one constant for every row the statement writes."""
    return "'" + _escape(tenant).replace("\0", "\\0") + "'"


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("'", "\\'")


def _source(structure: str, root: str, joins: str) -> str:
    return f"file('{{input}}', 'Protobuf', '{_escape(structure)}') {joins}", root


def _traces() -> list[Statement]:
    res = attr_map("rs.resource.attributes")
    cols = {
        "Timestamp": _ts("s.start_time_unix_nano"),
        "TraceId": _hex("s.trace_id"),
        "SpanId": _hex("s.span_id"),
        "ParentSpanId": _hex("s.parent_span_id"),
        "TraceState": "s.trace_state",
        "SpanName": "s.name",
        "SpanKind": f"{_SPAN_KIND}[least(greatest(s.kind, 0), 5) + 1]",
        "ServiceName": "res['service.name']",
        "ResourceAttributes": "res",
        "ScopeName": "ss.scope.name",
        "ScopeVersion": "ss.scope.version",
        "SpanAttributes": attr_map("s.attributes"),
        "Duration": "if(s.end_time_unix_nano > s.start_time_unix_nano, s.end_time_unix_nano - s.start_time_unix_nano, 0)",
        "StatusCode": f"{_STATUS}[least(greatest(s.status.code, 0), 2) + 1]",
        "StatusMessage": "s.status.message",
        "`Events.Timestamp`": f"arrayMap(e -> {_ts('e.time_unix_nano')}, s.events)",
        "`Events.Name`": "arrayMap(e -> e.name, s.events)",
        "`Events.Attributes`": f"arrayMap(e -> {attr_map('e.attributes')}, s.events)",
        "`Links.TraceId`": f"arrayMap(l -> {_hex('l.trace_id')}, s.links)",
        "`Links.SpanId`": f"arrayMap(l -> {_hex('l.span_id')}, s.links)",
        "`Links.TraceState`": "arrayMap(l -> l.trace_state, s.links)",
        "`Links.Attributes`": f"arrayMap(l -> {attr_map('l.attributes')}, s.links)",
    }
    joins = "ARRAY JOIN resource_spans AS rs ARRAY JOIN rs.scope_spans AS ss ARRAY JOIN ss.spans AS s"
    source, root = _source(_TRACES, ROOT_MESSAGES[Signal.TRACES], joins)
    return [_insert("otel_traces", cols, f"SELECT rs, ss, s, {res} AS res FROM {source}", root)]


def _logs() -> list[Statement]:
    cols = {
        "Timestamp": _ts("if(r.time_unix_nano != 0, r.time_unix_nano, r.observed_time_unix_nano)"),
        "TraceId": _hex("r.trace_id"),
        "SpanId": _hex("r.span_id"),
        "TraceFlags": "toUInt8(bitAnd(r.flags, 255))",
        "SeverityText": "r.severity_text",
        "SeverityNumber": "toUInt8(least(greatest(r.severity_number, 0), 255))",
        "ServiceName": "res['service.name']",
        "Body": any_value_str("r.body"),
        "ResourceSchemaUrl": "rl.schema_url",
        "ResourceAttributes": "res",
        "ScopeSchemaUrl": "sl.schema_url",
        "ScopeName": "sl.scope.name",
        "ScopeVersion": "sl.scope.version",
        "ScopeAttributes": attr_map("sl.scope.attributes"),
        "LogAttributes": attr_map("r.attributes"),
    }
    joins = "ARRAY JOIN resource_logs AS rl ARRAY JOIN rl.scope_logs AS sl ARRAY JOIN sl.log_records AS r"
    source, root = _source(_LOGS, ROOT_MESSAGES[Signal.LOGS], joins)
    inner = f"SELECT rl, sl, r, {attr_map('rl.resource.attributes')} AS res FROM {source}"
    return [_insert("otel_logs", cols, inner, root)]


def _number(prefix: str, field: str = "value") -> str:
    return f"if({prefix}.{field} = 'as_int', toFloat64({prefix}.as_int), {prefix}.as_double)"


_EXEMPLAR_COLS = {
    "`Exemplars.FilteredAttributes`": f"arrayMap(x -> {attr_map('x.filtered_attributes', 'xa')}, p.exemplars)",
    "`Exemplars.TimeUnix`": f"arrayMap(x -> {_ts('x.time_unix_nano')}, p.exemplars)",
    "`Exemplars.Value`": f"arrayMap(x -> {_number('x')}, p.exemplars)",
    "`Exemplars.SpanId`": f"arrayMap(x -> {_hex('x.span_id')}, p.exemplars)",
    "`Exemplars.TraceId`": f"arrayMap(x -> {_hex('x.trace_id')}, p.exemplars)",
}


def _metrics() -> list[Statement]:
    out = []
    for kind in _POINTS:
        cols = {
            "ResourceAttributes": "res",
            "ResourceSchemaUrl": "rm.schema_url",
            "ScopeName": "sm.scope.name",
            "ScopeVersion": "sm.scope.version",
            "ScopeAttributes": attr_map("sm.scope.attributes"),
            "ScopeDroppedAttrCount": "sm.scope.dropped_attributes_count",
            "ScopeSchemaUrl": "sm.schema_url",
            "ServiceName": "res['service.name']",
            "MetricName": "m.name",
            "MetricDescription": "m.description",
            "MetricUnit": "m.unit",
            "Attributes": attr_map("p.attributes"),
            "StartTimeUnix": _ts("p.start_time_unix_nano"),
            "TimeUnix": _ts("p.time_unix_nano"),
            "Flags": "p.flags",
        }
        data = f"m.{kind}"
        if kind in ("gauge", "sum"):
            cols["Value"] = _number("p")
            cols.update(_EXEMPLAR_COLS)
        if kind == "sum":
            cols["AggregationTemporality"] = f"{data}.aggregation_temporality"
            cols["IsMonotonic"] = f"{data}.is_monotonic"
        if kind in ("histogram", "exponential_histogram", "summary"):
            cols["Count"] = "p.count"
            cols["Sum"] = "p.sum"
        if kind == "histogram":
            cols["BucketCounts"] = "p.bucket_counts"
            cols["ExplicitBounds"] = "p.explicit_bounds"
        if kind == "exponential_histogram":
            cols.update({
                "Scale": "p.scale", "ZeroCount": "p.zero_count",
                "PositiveOffset": "p.positive.offset", "PositiveBucketCounts": "p.positive.bucket_counts",
                "NegativeOffset": "p.negative.offset", "NegativeBucketCounts": "p.negative.bucket_counts",
            })
        if kind in ("histogram", "exponential_histogram"):
            cols.update(_EXEMPLAR_COLS)
            cols["Min"] = "p.min"
            cols["Max"] = "p.max"
            cols["AggregationTemporality"] = f"{data}.aggregation_temporality"
        if kind == "summary":
            cols["`ValueAtQuantiles.Quantile`"] = "arrayMap(q -> q.quantile, p.quantile_values)"
            cols["`ValueAtQuantiles.Value`"] = "arrayMap(q -> q.value, p.quantile_values)"
        joins = (
            "ARRAY JOIN resource_metrics AS rm ARRAY JOIN rm.scope_metrics AS sm ARRAY JOIN sm.metrics AS m "
            f"ARRAY JOIN m.{kind}.data_points AS p"
        )
        source, root = _source(_metrics_structure(kind), ROOT_MESSAGES[Signal.METRICS], joins)
        inner = f"SELECT rm, sm, m, p, {attr_map('rm.resource.attributes')} AS res FROM {source}"
        out.append(_insert("otel_metrics_" + kind, cols, inner, root))
    return out


def _insert(table: str, cols: dict[str, str], inner: str, root: str) -> Statement:
    cols = {**cols, "Tenant": "{tenant}"}  # every row of the batch is its tenant's
    names = ", ".join(cols)
    exprs = ",\n    ".join(cols.values())
    # Deduplication: with a token, ClickHouse identifies the parts an insert writes as token_0,
    # token_1, … regardless of their content, so a replay must form the same number of parts. One
    # insert thread squashes everything into one block (per partition) as long as a batch stays
    # under min_insert_block_size_rows/bytes (1M rows / 256 MiB; the writer's batches are far
    # smaller: see MAX_BATCH_BYTES), whichever order the two SELECT threads produce rows in.
    sql = (
        f"INSERT INTO {table} ({names})\n"
        "SETTINGS insert_deduplicate = 1, insert_deduplication_token = '{token}', "
        "deduplicate_blocks_in_dependent_materialized_views = 1, max_insert_threads = 1, parallel_view_processing = 1\n"
        f"SELECT\n    {exprs}\nFROM ({inner})\n"
        f"SETTINGS format_schema = '{{schema}}:{root}', input_format_protobuf_oneof_presence = 1, max_threads = 2"
    )
    return Statement(table, sql)


STATEMENTS: dict[Signal, list[Statement]] = {
    Signal.TRACES: _traces(),
    Signal.LOGS: _logs(),
    Signal.METRICS: _metrics(),
}
METRIC_KINDS = tuple(_POINTS)
# Largest batch (request bytes) one insert may carry and still form a single block (see _insert).
MAX_BATCH_BYTES = 64 << 20
