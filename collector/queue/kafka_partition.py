"""What a KafkaQueue's consumer keeps for one partition, in one object, so that a rebalance (or a
failed commit) forgets all of it at once: ``del states[tp]``."""
from __future__ import annotations

import collections
import dataclasses


@dataclasses.dataclass
class PartitionState:
    # fetched, not yet handed out, in offset order (kafka-python ConsumerRecords)
    records: collections.deque = dataclasses.field(default_factory=collections.deque)
    nbytes: int = 0  # bytes of the buffered records' values
    since: float = 0.0  # when the oldest buffered record arrived here
    expect: int | None = None  # the next offset this partition must deliver; None until known
    reseeked: bool = False  # already sought back once to ``expect`` after a gap in the offsets
    reposition: bool = False  # seek back to the committed offset after the next poll (newly assigned)
    inflight: tuple[int, int] | None = None  # (first, last) handed out, not committed
    intent_known: bool = False  # the previous owner's intent was looked up (once per assignment)
    intent: tuple[int, int] | None = None  # that intent, until it served its one replay
    paused: bool = False  # fetching paused: two batches' worth are buffered

    def add(self, message) -> None:
        self.records.append(message)
        self.nbytes += len(message.value or b"")

    def full(self, max_records: int, max_bytes: int) -> bool:
        """Holding two batches' worth: stop fetching until drained."""
        return len(self.records) >= 2 * max_records or self.nbytes >= 2 * max_bytes

    def take(self, max_records: int, max_bytes: int, intent: tuple[int, int] | None) -> list:
        """The next batch's records: up to the intent's last offset if there is one, else within the
        limits (at least one record)."""
        msgs, nbytes = [], 0
        while self.records:
            m = self.records[0]
            if intent is not None:
                if m.offset > intent[1]:
                    break
            elif msgs and (len(msgs) >= max_records or nbytes + len(m.value or b"") > max_bytes):
                break
            self.records.popleft()
            msgs.append(m)
            nbytes += len(m.value or b"")
        self.nbytes -= nbytes
        return msgs

    def health(self) -> dict:
        """This partition's state as /api/v1/health shows it."""
        return {"buffered": len(self.records), "next": self.expect, "paused": self.paused,
                "in_flight": self.inflight, "intent": self.intent}
