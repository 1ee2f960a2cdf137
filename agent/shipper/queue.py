"""An ordered, bounded queue of export requests kept on disk, so nothing is lost while the
collector is down or the agent restarts.

Each item is one file ``<seq>.<signal>`` (a serialized OTLP export request) in the buffer
folder, written to a temporary name and renamed, so a crash never leaves half an item. Items
leave in ``seq`` order and only when :meth:`ack`-ed after the collector accepted them. When the
folder would exceed ``max_bytes`` the oldest items are deleted, counted in :attr:`dropped` and
logged: the newest data wins, and the bound is never exceeded.
"""
from __future__ import annotations

import collections
import logging
import os
import threading
import time

log = logging.getLogger("stackeye.agent.shipper")

SIGNALS = ("metrics", "logs", "traces")


class DiskQueue:
    def __init__(self, folder: str, max_bytes: int):
        self.folder = folder
        self.max_bytes = max_bytes
        os.makedirs(folder, exist_ok=True)
        self._cond = threading.Condition()
        self._items: collections.deque[tuple[int, str, int]] = collections.deque()  # (seq, signal, size)
        self._bytes = 0
        self.dropped = 0  # items dropped because the bound was hit
        self.dropped_bytes = 0
        self.enqueued = 0
        for name in sorted(os.listdir(folder)):
            seq, _, signal = name.partition(".")
            path = os.path.join(folder, name)
            if name.endswith(".tmp") or not seq.isdigit() or signal not in SIGNALS:
                if name.endswith(".tmp"):
                    os.unlink(path)
                continue
            size = os.path.getsize(path)
            self._items.append((int(seq), signal, size))
            self._bytes += size
        self._items = collections.deque(sorted(self._items))
        # Sequence numbers never repeat, even across restarts with an empty buffer: with the agent id
        # they name a batch for good (the "stackeye-batch-id" metadata a collector can dedupe on).
        self._next = max((self._items[-1][0] + 1) if self._items else 1, time.time_ns() // 1000)
        if self._items:
            log.info("disk buffer holds %d batches (%d bytes) from before; replaying them first", len(self._items), self._bytes)

    def _path(self, seq: int, signal: str) -> str:
        return os.path.join(self.folder, f"{seq:020d}.{signal}")

    def put(self, signal: str, payload: bytes) -> bool:
        """Append one serialized request; False (and counted as dropped) if it alone exceeds the bound."""
        if signal not in SIGNALS:
            raise ValueError(f"unknown signal {signal!r}")
        size = len(payload)
        with self._cond:
            if size > self.max_bytes:
                self.dropped += 1
                self.dropped_bytes += size
                log.error("dropped a %d-byte %s batch larger than the whole disk buffer (buffer_max_bytes=%d)",
                          size, signal, self.max_bytes)
                return False
            freed = 0
            while self._items and self._bytes + size > self.max_bytes:
                seq, sig, old = self._items.popleft()
                self._unlink(seq, sig)
                self._bytes -= old
                freed += 1
                self.dropped += 1
                self.dropped_bytes += old
            if freed:
                log.warning("disk buffer full (buffer_max_bytes=%d): dropped the %d oldest batches (%d dropped in all)",
                            self.max_bytes, freed, self.dropped)
            seq = self._next
            self._next += 1
            path = self._path(seq, signal)
            with open(path + ".tmp", "wb") as f:
                f.write(payload)
            os.replace(path + ".tmp", path)
            self._items.append((seq, signal, size))
            self._bytes += size
            self.enqueued += 1
            self._cond.notify_all()
            return True

    def peek(self, timeout: float | None = None) -> tuple[int, str, bytes] | None:
        """The oldest item (seq, signal, payload), waiting up to ``timeout`` for one; None if empty."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            while self._items:
                seq, signal, _ = self._items[0]
                try:
                    with open(self._path(seq, signal), "rb") as f:
                        return seq, signal, f.read()
                except FileNotFoundError:  # removed behind our back: skip it
                    self._bytes -= self._items.popleft()[2]
            return None

    def ack(self, seq: int) -> None:
        """The collector accepted item ``seq``: delete it."""
        with self._cond:
            if self._items and self._items[0][0] == seq:
                _, signal, size = self._items.popleft()
                self._unlink(seq, signal)
                self._bytes -= size
                self._cond.notify_all()

    def _unlink(self, seq: int, signal: str) -> None:
        try:
            os.unlink(self._path(seq, signal))
        except FileNotFoundError:
            pass

    def wait_empty(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._items, timeout)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    @property
    def depth(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        return self._bytes
