"""The embedded durable queue: an append-only spool of segment files on local disk.

Layout of ``<dir>``::

    00000000000000000000.seg   records from global byte offset 0
    00000000000067108864.seg   the next segment starts where the previous one ended
    state.json                 {"committed": offset, "inflight": [start, end] | null}
    deadletter/                records the storage refused for good, with the reason

Each record is ``<u32 length><u32 crc32>`` + an envelope header + the OTLP request bytes. Appends
are group-committed: concurrent ``put`` calls share one ``write`` + ``fsync``, and each returns
only after its bytes are on disk, so an acknowledged request survives ``kill -9``. A torn record at
the tail (a crash mid-write, never acknowledged) is cut off on open.

Exactly-once into ClickHouse: before inserting a batch the writer's range is recorded as
``inflight``; after a crash the same range is read again first and inserted with the same token,
which ClickHouse deduplicates.
"""
from __future__ import annotations

import json
import logging
import os
import struct
import threading
import time
import zlib
from typing import Sequence

from stackeye.collector.queue.base import Batch, QueueFull, Record
from stackeye.core.signals import Signal

log = logging.getLogger("stackeye.spool")

_FRAME = struct.Struct("<II")  # length of the rest, crc32 of the rest
_HEAD = struct.Struct("<BQIHH")  # signal, received_ns, items, len(tenant), len(agent_id)
_SEG = ".seg"


def _encode(rec: Record) -> bytes:
    tenant, agent = rec.tenant.encode(), rec.agent_id.encode()
    body = _HEAD.pack(int(rec.signal), rec.received_ns, rec.items, len(tenant), len(agent)) + tenant + agent + rec.payload
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


def _decode(body: bytes) -> Record:
    sig, received, items, lt, la = _HEAD.unpack_from(body)
    off = _HEAD.size
    tenant = body[off:off + lt].decode()
    agent = body[off + lt:off + lt + la].decode()
    return Record(Signal(sig), body[off + lt + la:], items, received, tenant, agent)


class Spool:
    """Disk spool implementing :class:`stackeye.collector.queue.base.Queue`."""

    def __init__(self, directory: str, *, segment_bytes: int = 64 << 20, max_bytes: int = 4 << 30, fsync: bool = True):
        self.dir = directory
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self.fsync = fsync
        os.makedirs(directory, exist_ok=True)
        self._state_path = os.path.join(directory, "state.json")
        self._cond = threading.Condition()
        self._pending: list[tuple[bytes, int]] = []  # (encoded, seq)
        self._seq = 0
        self._durable_seq = 0
        self._error: Exception | None = None
        self._closed = False
        self._woken = False
        state = self._load_state()
        self.committed = state["committed"]
        self.inflight: tuple[int, int] | None = tuple(state["inflight"]) if state.get("inflight") else None
        self._segments = self._scan()
        self.end = self._recover_tail()
        self._read_pos = self.committed
        self._open_for_append()
        self._flusher = threading.Thread(target=self._flush_loop, name="spool-flush", daemon=True)
        self._flusher.start()

    # -- state ---------------------------------------------------------------------------------
    def _load_state(self) -> dict:
        try:
            with open(self._state_path) as f:
                return json.load(f)
        except FileNotFoundError:
            return {"committed": 0, "inflight": None}

    def _save_state(self) -> None:
        tmp = self._state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"committed": self.committed, "inflight": list(self.inflight) if self.inflight else None}, f)
            f.flush()
            if self.fsync:
                os.fsync(f.fileno())
        os.replace(tmp, self._state_path)
        if self.fsync:
            _fsync_dir(self.dir)

    # -- segments ------------------------------------------------------------------------------
    def _scan(self) -> list[int]:
        bases = sorted(int(n[:-len(_SEG)]) for n in os.listdir(self.dir) if n.endswith(_SEG))
        return bases or [self.committed]

    def _seg_path(self, base: int) -> str:
        return os.path.join(self.dir, f"{base:020d}{_SEG}")

    def _recover_tail(self) -> int:
        """Find the end of valid data in the last segment; cut a torn record off."""
        base = self._segments[-1]
        path = self._seg_path(base)
        if not os.path.exists(path):
            open(path, "wb").close()
            return base
        valid = 0
        with open(path, "rb") as f:
            data = f.read()
        while valid + _FRAME.size <= len(data):
            length, crc = _FRAME.unpack_from(data, valid)
            body = data[valid + _FRAME.size: valid + _FRAME.size + length]
            if len(body) != length or zlib.crc32(body) != crc:
                break
            valid += _FRAME.size + length
        if valid != len(data):
            log.warning("spool: cut %d bytes of a torn record (never acknowledged) from %s", len(data) - valid, path)
            with open(path, "r+b") as f:
                f.truncate(valid)
                os.fsync(f.fileno())
        return base + valid

    def _open_for_append(self) -> None:
        self._active_base = self._segments[-1]
        self._active = open(self._seg_path(self._active_base), "ab")

    def _roll(self) -> None:
        self._active.close()
        self._segments.append(self.end)
        self._open_for_append()
        if self.fsync:
            _fsync_dir(self.dir)

    # -- Queue: put ----------------------------------------------------------------------------
    def put(self, records: Sequence[Record]) -> None:
        encoded = b"".join(_encode(r) for r in records)
        with self._cond:
            if self._closed:
                raise QueueFull("the spool is closed (shutting down)")
            backlog = self.end - self.committed + sum(len(e) for e, _ in self._pending)
            if backlog + len(encoded) > self.max_bytes:
                raise QueueFull(
                    f"spool full: {backlog} bytes waiting for the writer (limit {self.max_bytes}); retry later"
                )
            self._seq += 1
            seq = self._seq
            self._pending.append((encoded, seq))
            self._cond.notify_all()
            while self._durable_seq < seq and self._error is None:
                self._cond.wait()
            if self._durable_seq < seq and self._error is not None:
                raise OSError(f"spool write failed: {self._error}")

    def _flush_loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending and self._closed:
                    return
                pending, self._pending = self._pending, []
            try:
                for encoded, _ in pending:
                    if self.end - self._active_base >= self.segment_bytes:
                        self._roll()
                    self._active.write(encoded)
                    self.end += len(encoded)
                self._active.flush()
                if self.fsync:
                    os.fsync(self._active.fileno())
            except Exception as exc:  # disk full, I/O error: fail the waiters, keep running
                log.error("spool write failed: %s", exc)
                with self._cond:
                    self._error = exc
                    self._cond.notify_all()
                continue
            with self._cond:
                self._error = None
                self._durable_seq = pending[-1][1]
                self._cond.notify_all()

    # -- Queue: read / commit ------------------------------------------------------------------
    def read(self, max_records: int, max_bytes: int, max_wait_s: float) -> Batch | None:
        if self.inflight is not None:  # replay exactly the range that was being inserted at a crash
            start, end = self.inflight
            return Batch(self._read_range(start, end, 1 << 62, 1 << 62)[0], f"spool-{start}-{end}", (start, end))
        # One batch is in flight at a time: a new read starts after the last commit, so a batch
        # whose begin/commit failed is read again rather than skipped.
        self._read_pos = self.committed
        deadline = time.monotonic() + max_wait_s
        with self._cond:
            self._woken = False
            while True:
                waiting = self.end - self._read_pos
                if waiting >= max_bytes or self._closed or self._woken:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(min(remaining, 0.05))
            end = self.end
        if end <= self._read_pos:
            return None
        records, stop = self._read_range(self._read_pos, end, max_records, max_bytes)
        start = self._read_pos
        self._read_pos = stop
        return Batch(records, f"spool-{start}-{stop}", (start, stop))

    def _read_range(self, start: int, end: int, max_records: int, max_bytes: int) -> tuple[list[Record], int]:
        records: list[Record] = []
        pos, nbytes = start, 0
        for i, base in enumerate(self._segments):
            seg_end = self._segments[i + 1] if i + 1 < len(self._segments) else self.end
            if seg_end <= pos or base >= end:
                continue
            with open(self._seg_path(base), "rb") as f:
                f.seek(pos - base)
                data = f.read(min(seg_end, end) - pos)
            off = 0
            while off + _FRAME.size <= len(data) and len(records) < max_records and nbytes < max_bytes:
                length, crc = _FRAME.unpack_from(data, off)
                body = data[off + _FRAME.size: off + _FRAME.size + length]
                if len(body) != length:
                    break
                if zlib.crc32(body) != crc:
                    raise OSError(f"spool corrupted at offset {pos + off} in {self._seg_path(base)}")
                records.append(_decode(body))
                off += _FRAME.size + length
                nbytes += length
            pos += off
            if len(records) >= max_records or nbytes >= max_bytes or pos < min(seg_end, end):
                break
        return records, pos

    def begin(self, batch: Batch) -> None:
        """Record the batch's range before inserting it (so a crash replays exactly this range)."""
        if self.inflight != batch.position:
            previous, self.inflight = self.inflight, batch.position
            try:
                self._save_state()
            except BaseException:  # not recorded: a retried begin must write it, not find it "done"
                self.inflight = previous
                raise

    def commit(self, batch: Batch) -> None:
        start, end = batch.position
        if start != self.committed:
            raise RuntimeError(f"spool: commit out of order ({start} != committed {self.committed})")
        self.committed = end
        self.inflight = None
        self._save_state()
        self._read_pos = max(self._read_pos, end)
        self._drop_consumed_segments()

    def _drop_consumed_segments(self) -> None:
        while len(self._segments) > 1 and self._segments[1] <= self.committed:
            base = self._segments.pop(0)
            os.unlink(self._seg_path(base))

    def quarantine(self, record: Record, reason: str) -> str:
        """Keep a record the storage refuses for good, with the reason, out of the way."""
        folder = os.path.join(self.dir, "deadletter")
        os.makedirs(folder, exist_ok=True)
        name = f"{record.received_ns}-{record.signal.name.lower()}"
        with open(os.path.join(folder, name + ".pb"), "wb") as f:
            f.write(record.payload)
        with open(os.path.join(folder, name + ".txt"), "w") as f:
            f.write(reason + "\n")
        return os.path.join(folder, name + ".pb")

    def wake(self) -> None:
        """Make a waiting read return now with what is there (the writer is stopping)."""
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def depth(self) -> tuple[int, int]:
        return -1, self.end - self.committed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._flusher.join(timeout=10)
        self._active.close()


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
