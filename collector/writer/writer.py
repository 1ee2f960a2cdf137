"""The writer: queue → storage, one batch at a time, committing only after ClickHouse has it.

Loop: read a batch (size- and time-bounded) → mark it in flight → per signal and tenant, insert
with a token made of the batch's and the tenant → commit. If the storage is down, retry the same batch with capped exponential
backoff (:mod:`stackeye.core.retry`; the queue holds the backlog, ingest applies back-pressure when
it fills). If the queue fails around a batch (read, begin or commit), back off too and read again
from the last commit: the batch is read again, never skipped. If the storage refuses a batch for
good, insert its records one by one and set aside only those refused (dead letters, counted), so
one bad request never blocks the rest. Stopping without draining ends every wait at once.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from collections import defaultdict

from stackeye.collector.queue.base import Batch, Queue, Record
from stackeye.collector.telemetry import PipelineMetrics
from stackeye.core.retry import Backoff, Stopped, retry, retry_on
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
        self.backoff = Backoff(config.retry_initial_s, config.retry_max_s)
        self._stop = threading.Event()  # stop reading new batches
        self._abort = threading.Event()  # stop without draining: end the retries too
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
        if not drain:
            self._abort.set()
        self._stop.set()
        wake = getattr(self.queue, "wake", None)  # cut a long batch wait short, if the queue can
        if wake is not None:
            wake()
        if self._thread:
            self._thread.join(timeout)

    # -- loop ----------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                # A failure of the queue (reading, or recording a batch) retries the whole step:
                # the next read starts after the last commit, so the batch is read again, never skipped.
                if not retry(self._next_batch, is_retryable=retry_on(Exception), stop=self._abort,
                             policy=self.backoff, on_retry=self._queue_failed):
                    return
            except Stopped:
                return  # stopped while the queue was failing; what was not committed stays queued

    def _next_batch(self) -> bool:
        """Read one batch and write it; False when the loop is done."""
        cfg = self.config
        wait = 0.0 if self._stop.is_set() else cfg.batch_max_wait_s
        try:
            batch = self.queue.read(cfg.batch_max_records, cfg.batch_max_bytes, wait)
        except Exception as exc:  # e.g. the queue's disk: keep the loop alive, say why
            raise _QueueFailed(f"cannot read the queue: {exc}") from exc
        if batch is None:
            return not self._stop.is_set()
        if self._stop.is_set() and not self._draining:
            return False
        try:
            return self.write_batch(batch)  # False: stopped while the storage was down; the batch stays queued
        except Exception as exc:  # the queue failed to begin/commit: the batch is read again
            raise _QueueFailed(f"cannot record the batch {batch.token} in the queue: {exc}; it will be read again") from exc

    def _queue_failed(self, exc: BaseException, attempt: int, delay: float) -> None:
        self.last_error = str(exc)
        log.warning("%s; retrying in %.1fs", exc, delay, exc_info=exc.__cause__)

    def write_batch(self, batch: Batch) -> bool:
        """Insert and commit one batch, retrying until done; False if stopped before success."""
        self.queue.begin(batch)
        started = time.perf_counter()
        groups: dict[tuple[Signal, str], list[Record]] = defaultdict(list)
        for rec in batch.records:
            groups[(rec.signal, rec.tenant)].append(rec)
        try:
            for signal, tenant in sorted(groups):
                self._insert_group(signal, tenant, groups[(signal, tenant)], tenant_token(batch.token, tenant))
        except Stopped:
            return False
        self.metrics.insert_seconds.observe(time.perf_counter() - started)
        self.queue.commit(batch)
        self.metrics.written_batches.inc()
        self.metrics.batch_items.observe(batch.items)
        self.last_error = ""
        return True

    def _insert_group(self, signal: Signal, tenant: str, records: list[Record], token: str) -> None:
        payloads = [r.payload for r in records]
        if self._inserted(lambda: self._insert(signal, payloads, token, tenant)):
            self.metrics.written_rows.labels(signal=signal.name.lower()).inc(sum(r.items for r in records))
            return
        # refused for good: find the records at fault, write the others under their own tokens
        for i, (rec, payload) in enumerate(zip(records, payloads)):
            if self._inserted(lambda: self._insert(signal, [payload], f"{token}-r{i}", tenant)):
                self.metrics.written_rows.labels(signal=signal.name.lower()).inc(rec.items)
            else:
                where = self.queue.quarantine(rec, self.last_error)
                self.metrics.dead_letters.labels(signal=signal.name.lower()).inc()
                log.error("storage refused a %s request for good (%s); kept at %s", signal.name.lower(), self.last_error, where)

    def _insert(self, signal: Signal, payloads: list[bytes], token: str, tenant: str) -> None:
        cut = self.storage.insert_otlp(signal, payloads, token, tenant)
        for what, n in (cut or {}).items():  # attributes cut to the limits (stackeye.storage.attribute_limits)
            self.metrics.truncated_attributes.labels(signal=signal.name.lower(), what=what).inc(n)

    def _inserted(self, insert) -> bool:
        """Run ``insert`` until it succeeds (True) or fails for good (False); raise Stopped on stop
        (without draining) while the storage is down."""
        try:
            retry(insert, is_retryable=_storage_may_recover, stop=self._abort, policy=self.backoff,
                  on_retry=self._insert_failed)
            return True
        except StorageError as exc:  # permanent: retrying cannot help
            self._count_insert_error(exc)
            return False

    def _insert_failed(self, exc: BaseException, attempt: int, delay: float) -> None:
        self._count_insert_error(exc)
        log.warning("insert failed (%s); retrying in %.1fs, the batch stays queued", exc, delay)

    def _count_insert_error(self, exc: StorageError) -> None:
        self.metrics.insert_errors.labels(retryable=str(exc.retryable).lower()).inc()
        self.last_error = str(exc)


def tenant_token(batch_token: str, tenant: str) -> str:
    """The token of one tenant's inserts of a batch. Each insert into a table needs a token of its
    own (a second insert with the same token is dropped as a duplicate), and a replayed batch must
    form the same ones. The tenant enters as a digest: fixed length (no tenant's token is another's
    with a suffix), no quotes. The default tenant keeps the batch's token, as before tenants had
    rows: a batch in flight across the upgrade still deduplicates."""
    if tenant == "default":
        return batch_token
    return f"{batch_token}-t{hashlib.blake2b(tenant.encode(), digest_size=8).hexdigest()}"


_storage_may_recover = retry_on(StorageError, when=lambda exc: exc.retryable)


class _QueueFailed(Exception):
    """The queue failed around a batch (reading it, or recording it in flight or written)."""
