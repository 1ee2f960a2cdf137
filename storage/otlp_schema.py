"""A ``.proto`` schema of the OTLP export requests, generated from opentelemetry-proto's descriptors.

ClickHouse reads the raw request bytes with ``FORMAT Protobuf`` against this file. It is the real
OTLP schema (same field numbers, generated at start-up, never kept by hand) with two changes the
engine needs:

- ``AnyValue.array_value`` / ``kvlist_value`` are declared ``bytes``: ClickHouse cannot map recursive
  messages. Requests carrying such values are rewritten before the insert
  (:mod:`stackeye.storage.complex_values`), so the engine only ever sees scalars.
- enums are declared ``int32`` (same wire encoding); the SQL maps numbers to the exporter's strings.
"""
from __future__ import annotations

import os

from google.protobuf.descriptor import FieldDescriptor as FD
from stackeye.core.signals import Signal

_SCALAR = {
    FD.TYPE_DOUBLE: "double", FD.TYPE_FLOAT: "float", FD.TYPE_INT64: "int64", FD.TYPE_UINT64: "uint64",
    FD.TYPE_INT32: "int32", FD.TYPE_FIXED64: "fixed64", FD.TYPE_FIXED32: "fixed32", FD.TYPE_BOOL: "bool",
    FD.TYPE_STRING: "string", FD.TYPE_BYTES: "bytes", FD.TYPE_UINT32: "uint32", FD.TYPE_ENUM: "int32",
    FD.TYPE_SFIXED32: "sfixed32", FD.TYPE_SFIXED64: "sfixed64", FD.TYPE_SINT32: "sint32", FD.TYPE_SINT64: "sint64",
}
_OPAQUE = {"opentelemetry.proto.common.v1.ArrayValue", "opentelemetry.proto.common.v1.KeyValueList"}

ROOT_MESSAGES = {s: s.request_type.DESCRIPTOR.full_name.replace(".", "_") for s in Signal}


def _local(full_name: str) -> str:
    return full_name.replace(".", "_")


def schema_text() -> str:
    """The whole schema: every message reachable from the three export requests."""
    out = ['syntax = "proto3";', "package stackeye_otlp;", ""]
    seen: set[str] = set()
    pending = [s.request_type.DESCRIPTOR for s in Signal]
    while pending:
        desc = pending.pop()
        if desc.full_name in seen:
            continue
        seen.add(desc.full_name)
        lines = [f"message {_local(desc.full_name)} {{"]
        grouped: dict[str, list[str]] = {}
        for field in desc.fields:
            if field.type == FD.TYPE_MESSAGE and field.message_type.full_name in _OPAQUE:
                ftype = "bytes"
            elif field.type == FD.TYPE_MESSAGE:
                ftype = _local(field.message_type.full_name)
                pending.append(field.message_type)
            else:
                ftype = _SCALAR[field.type]
            label = "repeated " if field.is_repeated else ""
            decl = f"{label}{ftype} {field.name} = {field.number};"
            oneof = field.containing_oneof
            if oneof is not None and not _synthetic(oneof):
                grouped.setdefault(oneof.name, []).append(decl)
            else:
                lines.append("  " + decl)
        for name, decls in grouped.items():
            lines.append(f"  oneof {name} {{ " + " ".join(decls) + " }")
        lines.append("}")
        out.extend(lines)
    return "\n".join(out) + "\n"


def _synthetic(oneof) -> bool:
    # proto3 `optional` fields live in a one-field oneof named "_<field>".
    return len(oneof.fields) == 1 and oneof.name == "_" + oneof.fields[0].name


def write_schema(directory: str) -> str:
    """Write the schema into ``directory`` (idempotent) and return its path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "otlp.proto")
    text = schema_text()
    try:
        with open(path) as f:
            if f.read() == text:
                return path
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return path
