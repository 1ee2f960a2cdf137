"""Attribute limits: how many attributes an item keeps and how long their keys and values may be.

One hostile or buggy sender must not store a megabyte per attribute or thousands of attributes
per span, and one long value must not cost the rest of its batch. Past the limits, values and
keys are cut (at a UTF-8 character boundary), attributes beyond the count are dropped (the first
ones are kept, as the OpenTelemetry SDKs do), and each cut is counted.

Where: the engine's flattening checks every attribute list against the limits as part of the insert
(vectorised, a few comparisons per attribute, see :func:`stackeye.storage.engine_flatten.attr_map`)
and stops the insert with :data:`~stackeye.storage.engine_flatten.ATTRIBUTE_LIMIT_MARK` on the rare
batch over them. That batch's requests are then cut here, in Python, counted, and inserted again.
Requests within the limits (nearly all) never run any Python per attribute.
"""
from __future__ import annotations

import collections
import dataclasses

from google.protobuf.message import Message
from opentelemetry.proto.common.v1 import common_pb2
from stackeye.core.signals import Signal

_KEY_VALUE = common_pb2.KeyValue.DESCRIPTOR
_ANY_VALUE = common_pb2.AnyValue.DESCRIPTOR


@dataclasses.dataclass(frozen=True)
class AttributeLimits:
    max_attributes: int = 128  # per resource, scope, span, event, link, log record, data point, exemplar
    max_key_bytes: int = 256
    max_value_bytes: int = 64 << 10  # a string value's UTF-8 bytes, a bytes value's bytes (before base64)

    def __post_init__(self):
        for f in dataclasses.fields(self):
            if getattr(self, f.name) < 1:
                raise ValueError(f"{f.name} must be at least 1, got {getattr(self, f.name)}")

    def placeholders(self) -> dict[str, str]:
        """The values of the ``{max_*}`` placeholders of the engine's statements."""
        return {f.name: str(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _cut_utf8(text: str, limit: int) -> str:
    return text.encode()[:limit].decode("utf-8", "ignore")  # "ignore": a character cut in two is left out


def _limit_list(kvs, limits: AttributeLimits, cut: collections.Counter) -> None:
    extra = len(kvs) - limits.max_attributes
    if extra > 0:
        del kvs[limits.max_attributes:]
        cut["count"] += extra
    for kv in kvs:
        if len(kv.key) > limits.max_key_bytes // 4 and len(kv.key.encode()) > limits.max_key_bytes:
            kv.key = _cut_utf8(kv.key, limits.max_key_bytes)
            cut["key"] += 1
        value = kv.value
        kind = value.WhichOneof("value")
        if kind == "string_value" and len(value.string_value.encode()) > limits.max_value_bytes:
            value.string_value = _cut_utf8(value.string_value, limits.max_value_bytes)
            cut["value"] += 1
        elif kind == "bytes_value" and len(value.bytes_value) > limits.max_value_bytes:
            value.bytes_value = value.bytes_value[:limits.max_value_bytes]
            cut["value"] += 1


def _walk(message: Message, limits: AttributeLimits, cut: collections.Counter) -> None:
    """Every KeyValue list below ``message``, except inside AnyValues (arrays and maps are
    rendered as one JSON string value first, see complex_values, and cut as that)."""
    for field, value in message.ListFields():
        if field.message_type is None or field.message_type is _ANY_VALUE:
            continue
        if field.message_type is _KEY_VALUE:
            _limit_list(value, limits, cut)
        elif field.is_repeated:
            if field.message_type.GetOptions().map_entry:
                continue
            for item in value:
                _walk(item, limits, cut)
        else:
            _walk(value, limits, cut)


def limit_request(signal: Signal, payload: bytes, limits: AttributeLimits) -> tuple[bytes, collections.Counter]:
    """``payload`` within ``limits`` and what was cut (``value``, ``key``, ``count``: attributes
    dropped); the same bytes when nothing was over."""
    request = signal.request_type.FromString(payload)
    cut: collections.Counter = collections.Counter()
    _walk(request, limits, cut)
    return (request.SerializeToString() if cut else payload), cut
