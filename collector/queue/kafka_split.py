"""Splitting an OTLP request that does not fit one Kafka message into valid requests that do.

:func:`split_to_fit` cuts by resource, then scope, then items; each piece keeps its resource and
scope, so every piece is a whole request the writer inserts like any other. A metric with too many
data points becomes several copies of that metric. One item larger than the limit cannot be cut:
:class:`RecordTooLarge`.
"""
from __future__ import annotations

from stackeye.collector.queue.base import QueueFull, Record
from stackeye.core.signals import Signal, count_items


class RecordTooLarge(QueueFull):
    """One item (a single span, log record or data point) is larger than Kafka's message size.
    A :class:`QueueFull` so that ingest answers RESOURCE_EXHAUSTED (HTTP 413/503) with this message."""

    reason = "too_large"  # the rejected-requests counter's label


_PATHS = {
    Signal.TRACES: ("resource_spans", "scope_spans", "spans"),
    Signal.LOGS: ("resource_logs", "scope_logs", "log_records"),
    Signal.METRICS: ("resource_metrics", "scope_metrics", "metrics"),
}


def split_to_fit(record: Record, limit: int) -> list[tuple[bytes, int]]:
    """The record's payload as one or more valid requests of at most ``limit`` bytes, with item counts.

    Splits by resource, then scope, then items (each piece keeps its resource and scope), and a
    metric with too many data points into several copies of that metric.
    """
    if len(record.payload) <= limit:
        return [(record.payload, record.items)]
    request = record.signal.request_type.FromString(record.payload)
    out = []
    for piece in _split(record.signal, request, limit):
        out.append((piece.SerializeToString(), count_items(record.signal, piece)))
    return out


def _leaves(signal: Signal, request) -> list[tuple[int, int, object]]:
    """(resource index, scope index, item) for every item; oversized metrics cut by data points."""
    r_field, s_field, i_field = _PATHS[signal]
    out = []
    for ri, res in enumerate(getattr(request, r_field)):
        for si, scope in enumerate(getattr(res, s_field)):
            for item in getattr(scope, i_field):
                out.append((ri, si, item))
    return out


def _build(signal: Signal, request, leaves) -> object:
    r_field, s_field, i_field = _PATHS[signal]
    new = signal.request_type()
    res_map: dict = {}
    scope_map: dict = {}
    for ri, si, item in leaves:
        if ri not in res_map:
            src = getattr(request, r_field)[ri]
            dst = getattr(new, r_field).add()
            dst.resource.CopyFrom(src.resource)
            dst.schema_url = src.schema_url
            res_map[ri] = dst
        if (ri, si) not in scope_map:
            src = getattr(getattr(request, r_field)[ri], s_field)[si]
            dst = getattr(res_map[ri], s_field).add()
            dst.scope.CopyFrom(src.scope)
            dst.schema_url = src.schema_url
            scope_map[(ri, si)] = dst
        getattr(scope_map[(ri, si)], i_field).append(item)
    return new


def _split_metric(metric, limit: int) -> list:
    kind = metric.WhichOneof("data")
    points = list(getattr(metric, kind).data_points) if kind else []
    if len(points) <= 1:
        raise RecordTooLarge(f"metric {metric.name!r} has a data point larger than {limit} bytes")
    half = len(points) // 2
    out = []
    for part in (points[:half], points[half:]):
        m = type(metric)()
        m.CopyFrom(metric)
        del getattr(m, kind).data_points[:]
        getattr(m, kind).data_points.extend(part)
        out.extend([m] if m.ByteSize() <= limit else _split_metric(m, limit))
    return out


def _split(signal: Signal, request, limit: int) -> list:
    leaves = _leaves(signal, request)
    if signal is Signal.METRICS:
        expanded = []
        for ri, si, metric in leaves:
            if metric.ByteSize() > limit // 2:
                expanded.extend((ri, si, m) for m in _split_metric(metric, limit // 2))
            else:
                expanded.append((ri, si, metric))
        leaves = expanded
    pieces, pending = [], [leaves]
    while pending:
        chunk = pending.pop()
        built = _build(signal, request, chunk)
        if built.ByteSize() <= limit:
            pieces.append(built)
        elif len(chunk) <= 1:
            raise RecordTooLarge(
                f"one {signal.item_name[:-1]} is {built.ByteSize()} bytes, over Kafka's message limit of {limit}"
            )
        else:
            half = len(chunk) // 2
            pending.append(chunk[half:])
            pending.append(chunk[:half])
    return pieces
