"""Decisions and policy states as JSON and back, by their dataclasses' type hints.

The store keeps both as JSON (``stackeye_decisions``), the API answers JSON, and a restart or
``--at`` turns a stored state into the policy's ``state_type`` again. :func:`encode` writes
dataclasses as objects, tuples as arrays and datetimes as RFC 3339; :func:`decode` rebuilds a
value of a given type from that, ignoring keys the type no longer has and leaving out keys it
gained (their defaults apply), so a state stored by an older version still loads.

>>> import dataclasses
>>> @dataclasses.dataclass(frozen=True)
... class S:
...     points: tuple[tuple[float, int], ...] = ()
...     last: int | None = None
>>> decode(S, encode(S(((1.5, 3),), 4)))
S(points=((1.5, 3),), last=4)
"""
from __future__ import annotations

import collections.abc
import dataclasses
import datetime as dt
import functools
import types
import typing
from typing import Any


def encode(value: Any) -> Any:
    """A JSON-ready form of ``value`` (dataclasses, mappings, tuples, datetimes, scalars)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, collections.abc.Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def decode(tp: Any, value: Any) -> Any:
    """``value`` (as :func:`encode` wrote it) as a ``tp``."""
    if value is None:
        return None
    if dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        return tp(**{k: decode(hints[k], v) for k, v in value.items() if k in names})
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return decode(inner[0], value) if len(inner) == 1 else value
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v) for v in value)
        return tuple(decode(a, v) for a, v in zip(args, value)) if args else tuple(value)
    if origin in (dict, collections.abc.Mapping):
        return {k: decode(args[1], v) for k, v in value.items()} if args else dict(value)
    if tp is dt.datetime:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if tp is float and isinstance(value, int):
        return float(value)
    return value
