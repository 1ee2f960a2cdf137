"""The writer: queue → storage, one batch at a time, committing only after ClickHouse has it.

Loop: read a batch (size- and time-bounded) → mark it in flight → per signal, insert with the
batch's token → commit. If the storage is down, retry the
same batch with capped exponential backoff (the queue holds the backlog; ingest applies
back-pressure when it fills). If the storage refuses a batch for good, insert its records one by
one and set aside only those refused (dead letters, counted), so one bad request never blocks the
rest.
"""
from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections import defaultdict

from stackeye.collector.queue.base import Batch, Queue, Record
from stackeye.collector.telemetry import PipelineMetrics
from stackeye.core.signals import Signal
from stackeye.storage.base import Storage, StorageError

log = logging.getLogger("stackeye.writer")


@dataclasses.dataclass(frozen=True)
class WriterConfig:
    batch_max_records: int = 200  # OTLP requests per insert (each holds many items)
    batch_max_bytes: int = 16 << 20  # request bytes per insert: fewer, larger inserts (bench/RESULTS.md)
    batch_max_wait_s: float = 1.0  # data is queryable within about this long
    retry_initial_s: float = 0.2
    retry_max_s: float = 10.0


class Writer:
    def __init__(self, queue: Queue, storage: Storage, metrics: PipelineMetrics, config: WriterConfig = WriterConfig()):
        self.queue = queue
        self.storage = storage
        self.metrics = metrics
        self.config = config
        self._stop = threading.Event()
        self._draining = False
        self._thread: threading.Thread | None = None
        self.last_error: str = ""

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="writer", daemon=True)
        self._thread.start()

    def stop(self, drain: bool = True, timeout: float = 120.0) -> None:
        """Stop; with ``drain``, first write everything already queued."""
        self._draining = drain
        self._stop.set()
        wake = getattr(self.queue, "wake", None)  # cut a long batch wait short, if the queue can
        if wake is not None:
            wake()
        if self._thread:
            self._thread.join(timeout)

    # -- loop ----------------------------------------------------------------------------------
    def _run(self) -> None:
        cfg = self.config
        while True:
            wait = 0.0 if self._stop.is_set() else cfg.batch_max_wait_s
            try:
                batch = self.queue.read(cfg.batch_max_records, cfg.batch_max_bytes, wait)
            except Exception as exc:  # e.g. the queue's disk: keep the loop alive, say why
                self.last_error = f"cannot read the queue: {exc}"
                log.exception("cannot read the queue; retrying in 1s")
                if self._stop.wait(1.0) and not self._draining:
                    return
                continue
            if batch is None:
                if self._stop.is_set():
                    return
                continue
            if self._stop.is_set() and not self._draining:
                return
            try:
                if not self.write_batch(batch):
                    return  # stopped while the storage was down; the batch stays queued
            except Exception as exc:  # the queue failed to begin/commit: the batch is read again
                self.last_error = f"cannot record the batch in the queue: {exc}"
                log.exception("queue failed around batch %s; it will be read again", batch.token)
                if self._stop.wait(1.0) and not self._draining:
                    return

    def write_batch(self, batch: Batch) -> bool:
        """Insert and commit one batch, retrying until done; False if stopped before success."""
        self.queue.begin(batch)
        started = time.perf_counter()
        groups: dict[Signal, list[Record]] = defaultdict(list)
        for rec in batch.records:
            groups[rec.signal].append(rec)
        try:
            for signal in sorted(groups):
                self._insert_group(signal, groups[signal], batch.token)
        except _Stopped:
            return False
        self.metrics.insert_seconds.observe(time.perf_counter() - started)
        self.queue.commit(batch)
        self.metrics.written_batches.inc()
        self.metrics.batch_items.observe(batch.items)
        self.last_error = ""
        return True

    def _insert_group(self, signal: Signal, records: list[Record], token: str) -> None:
        payloads = [r.payload for r in records]
        if self._retrying(lambda: self.storage.insert_otlp(signal, payloads, token)):
            self.metrics.written_rows.labels(signal=signal.name.lower()).inc(sum(r.items for r in records))
            return
        # refused for good: find the records at fault, write the others under their own tokens
        for i, (rec, payload) in enumerate(zip(records, payloads)):
            if self._retrying(lambda: self.storage.insert_otlp(signal, [payload], f"{token}-r{i}")):
                self.metrics.written_rows.labels(signal=signal.name.lower()).inc(rec.items)
            else:
                where = self.queue.quarantine(rec, self.last_error)
                self.metrics.dead_letters.labels(signal=signal.name.lower()).inc()
                log.error("storage refused a %s request for good (%s); kept at %s", signal.name.lower(), self.last_error, where)

    def _retrying(self, insert) -> bool:
        """Run ``insert`` until it succeeds (True) or fails for good (False); raise _Stopped on stop."""
        delay = self.config.retry_initial_s
        while True:
            try:
                insert()
                return True
            except StorageError as exc:
                self.metrics.insert_errors.labels(retryable=str(exc.retryable).lower()).inc()
                self.last_error = str(exc)
                if not exc.retryable:
                    return False
                log.warning("insert failed (%s); retrying in %.1fs, the batch stays queued", exc, delay)
                if self._stop.wait(delay) and not self._draining:
                    raise _Stopped()
                delay = min(delay * 2, self.config.retry_max_s) * random.uniform(0.8, 1.0)


class _Stopped(Exception):
    pass
