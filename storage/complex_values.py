"""Array and map attribute values: rendered to JSON strings before the engine flattens a request.

The engine reads OTLP with a non-recursive schema (see :mod:`stackeye.storage.otlp_schema`),
so ``AnyValue.array_value`` / ``kvlist_value`` arrive as opaque bytes. The OpenTelemetry Collector's
ClickHouse exporter stores such values as JSON text; we do the same by rewriting only the requests
that carry them: each such AnyValue becomes a ``string_value`` holding the JSON.

Finding them cheaply: a KeyValue's value (field 2) or a log body (field 5) that holds an array or
map is encoded ``<0x12|0x2a> <varint length> <0x2a|0x32>``. A byte pattern search (C speed) rules
out almost every request; the rare match (random id bytes can match) is confirmed by a walk.
"""
from __future__ import annotations

import base64
import json
import re

from opentelemetry.proto.common.v1 import common_pb2
from stackeye.core.signals import Signal

# <tag> <varint length> <0x2a|0x32>
_CANDIDATE = re.compile(rb"[\x12\x2a]([\x80-\xff]{0,4}[\x00-\x7f])[\x2a\x32]", re.DOTALL)
_ANY_VALUE = common_pb2.AnyValue.DESCRIPTOR


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data):
        b = data[pos]
        value |= (b & 0x7F) << shift
        pos += 1
        if b < 0x80:
            return value, pos
        shift += 7
    return -1, pos


def may_have_complex(payload: bytes) -> bool:
    """True if some AnyValue in ``payload`` might be an array or map (no false negatives)."""
    search = _CANDIDATE.search
    m = search(payload)
    while m is not None:
        outer = m.group(1)
        outer_len, _ = _varint(outer, 0)
        inner_len, end = _varint(payload, m.end())
        # an AnyValue holding only the array/map: its length is exactly tag + varint + body
        if inner_len >= 0 and outer_len == end - m.end() + 1 + inner_len:
            return True
        m = search(payload, m.start() + 1)  # candidates may overlap: step one byte, not past the match
    return False


def to_raw(value: common_pb2.AnyValue):
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [to_raw(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: to_raw(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if kind is None:
        return None
    return getattr(value, kind)


def to_json(value: common_pb2.AnyValue) -> str:
    """JSON as the exporter writes it: compact, keys sorted (Go's encoding/json on a map)."""
    return json.dumps(to_raw(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _rewrite(message) -> int:
    """Replace complex AnyValues under ``message`` with their JSON; return how many."""
    changed = 0
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        items = value if field.is_repeated else [value]
        for item in items:
            if item.DESCRIPTOR is _ANY_VALUE:
                if item.WhichOneof("value") in ("array_value", "kvlist_value"):
                    item.string_value = to_json(item)  # setting one oneof case clears the other
                    changed += 1
            else:
                changed += _rewrite(item)
    return changed


def normalize(signal: Signal, payload: bytes) -> bytes:
    """The payload with array/map values as JSON strings; unchanged (same object) if it has none."""
    if not may_have_complex(payload):
        return payload
    request = signal.request_type.FromString(payload)
    if _rewrite(request) == 0:
        return payload
    return request.SerializeToString()
