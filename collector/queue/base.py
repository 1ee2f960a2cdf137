"""The queue interface between ingest and the writer.

A queue carries :class:`Record` s: the OTLP request bytes exactly as received, plus a small
envelope (signal, tenant, agent id, receive time, item count). The embedded default is the disk
spool (:mod:`.spool`); cluster mode puts Kafka behind the same interface.

Contract:
- ``put`` returns only once the records are durable (fsync'd, or acknowledged by all replicas).
- ``read`` hands out the next batch after the last committed one; a batch is identified by a
  position range that stays the same if it is read again after a crash (``batch.token``), so the
  storage can deduplicate a replayed insert.
- ``begin`` records a batch as in flight before its insert; ``commit`` marks it written; it is
  never read again.
"""
from __future__ import annotations

import dataclasses
from typing import Protocol, Sequence

from stackeye.core.signals import Signal


class QueueFull(Exception):
    """The queue is at its bound: the sender should retry later (back-pressure, nothing dropped)."""


class QueueUnavailable(Exception):
    """The queue cannot take records right now (e.g. Kafka unreachable)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    signal: Signal
    payload: bytes  # the serialized Export*ServiceRequest
    items: int  # spans / data points / log records in payload
    received_ns: int
    tenant: str = "default"
    agent_id: str = ""


@dataclasses.dataclass(slots=True)
class Batch:
    records: list[Record]
    token: str  # stable id of this position range, e.g. "spool-1024-8192"
    position: object = None  # queue-specific: what commit() needs

    @property
    def items(self) -> int:
        return sum(r.items for r in self.records)

    @property
    def nbytes(self) -> int:
        return sum(len(r.payload) for r in self.records)


class Queue(Protocol):
    def put(self, records: Sequence[Record]) -> None:
        """Append records durably; raise QueueFull / QueueUnavailable when it cannot."""

    def read(self, max_records: int, max_bytes: int, max_wait_s: float) -> Batch | None:
        """The next uncommitted batch, waiting up to max_wait_s for it to fill; None if empty."""

    def begin(self, batch: Batch) -> None:
        """Record durably that this batch is being inserted, so that after a crash the same
        range is read again first (same records, same token) and the insert deduplicates."""

    def commit(self, batch: Batch) -> None:
        """Mark the batch written; it will not be read again."""

    def quarantine(self, record: Record, reason: str) -> str:
        """Set aside a record the storage refuses for good (dead letter); return where it went."""

    def depth(self) -> tuple[int, int]:
        """(records, bytes) waiting to be written; -1 where unknown."""

    # Optional: ``wake()`` makes a ``read`` that is waiting for its batch to fill return at once
    # (the writer calls it when stopping, so a long ``max_wait_s`` does not delay shutdown).

    def close(self) -> None: ...
