"""A :class:`Record` as a Kafka message and back: the OTLP request bytes as the value, the envelope
(tenant, agent id, receive time, item count) in record headers.

The value is exactly what the OpenTelemetry Collector's Kafka exporter writes with ``otlp_proto``
encoding, so either side can be swapped for it. A dead letter carries the signal, the reason and
its source position in headers as well.
"""
from __future__ import annotations

from stackeye.collector.queue.base import Record
from stackeye.core.signals import Signal, count_items

H_TENANT, H_AGENT, H_RECEIVED, H_ITEMS = "stackeye.tenant", "stackeye.agent_id", "stackeye.received_ns", "stackeye.items"
H_SIGNAL, H_DLQ_REASON, H_DLQ_SOURCE = "stackeye.signal", "stackeye.dlq.reason", "stackeye.dlq.source"


def envelope_headers(record: Record, items: int | None = None) -> list[tuple[str, bytes]]:
    """The record's envelope as headers; ``items`` for a piece of a split record."""
    return [
        (H_TENANT, record.tenant.encode()),
        (H_AGENT, record.agent_id.encode()),
        (H_RECEIVED, str(record.received_ns).encode()),
        (H_ITEMS, str(record.items if items is None else items).encode()),
    ]


def dead_letter_headers(record: Record, reason: str, source: str) -> list[tuple[str, bytes]]:
    return [
        *envelope_headers(record),
        (H_SIGNAL, record.signal.name.lower().encode()),
        (H_DLQ_REASON, reason.encode()[:4000]), (H_DLQ_SOURCE, source.encode()),
    ]


def envelope(headers) -> dict:
    """The envelope fields found in a message's headers (unreadable ones are left out)."""
    env: dict = {}
    for k, v in headers or ():
        try:
            if k == H_TENANT:
                env["tenant"] = v.decode() or "default"
            elif k == H_AGENT:
                env["agent_id"] = v.decode()
            elif k == H_RECEIVED:
                env["received_ns"] = int(v)
            elif k == H_ITEMS:
                env["items"] = int(v)
        except (ValueError, UnicodeDecodeError):
            continue
    return env


def decode(signal: Signal, message) -> tuple[Record | None, str]:
    """The record a consumed message holds, or (None, why not) when its value is not a request of
    ``signal`` (a poison record). Without an items header the items are counted; without a receive
    time the message's timestamp stands in."""
    value = message.value or b""
    try:
        request = signal.request_type.FromString(value)
    except Exception as exc:
        return None, f"not a valid {signal.request_type.DESCRIPTOR.name}: {exc}"
    env = envelope(message.headers)
    items = env.pop("items", None)
    if items is None:
        items = count_items(signal, request)
    if not env.get("received_ns"):
        env["received_ns"] = int(message.timestamp) * 1_000_000 if message.timestamp and message.timestamp > 0 else 0
    return Record(signal, value, items, **env), ""


def poison_record(signal: Signal, message) -> Record:
    """An undecodable message as a record, its bytes untouched, for the dead-letter topic."""
    env = envelope(message.headers)
    return Record(signal, message.value or b"", env.get("items", 0), env.get("received_ns", 0),
                  env.get("tenant", "default"), env.get("agent_id", ""))
