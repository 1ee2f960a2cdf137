"""Requests re-encoded the way protobuf writes them, for the engine's stricter Protobuf reader.

The receiver accepts what protobuf's parser accepts: unknown fields (of any wire type, or a known
field sent with the wrong one), a bool encoded as any varint, a oneof given twice (the last wins).
ClickHouse's ``FORMAT Protobuf`` refuses those (UNKNOWN_PROTOBUF_FORMAT, PROTOBUF_BAD_CAST, "OneOf
has more than one value"), so one such request would fail its whole batch. Parsing and
serializing again, without unknown fields, gives the engine the same data in the canonical form.
Only batches the engine refused pay for it.
"""
from __future__ import annotations

from google.protobuf.message import DecodeError
from stackeye.core.signals import Signal

# what ClickHouse says when its Protobuf reader refuses the bytes (not the data in them)
_REFUSALS = ("UNKNOWN_PROTOBUF_FORMAT", "PROTOBUF_BAD_CAST", "Invalid protobuf data")


def refused_encoding(message: str) -> bool:
    """True if an insert failed on how a request was encoded, which :func:`canonical` cures."""
    return any(r in message for r in _REFUSALS)


def canonical(signal: Signal, payload: bytes) -> bytes:
    """``payload`` re-encoded; unchanged when protobuf cannot parse it either (the insert then fails
    for good, and the writer sets that request aside)."""
    try:
        request = signal.request_type.FromString(payload)
    except DecodeError:
        return payload
    request.DiscardUnknownFields()
    return request.SerializeToString()
