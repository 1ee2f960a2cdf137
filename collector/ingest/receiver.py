"""What every OTLP transport shares: authenticate, validate, enqueue durably, count.

The gRPC and HTTP front ends only translate their protocol to :meth:`Receiver.accept` and its
:class:`IngestError` back to status codes.
"""
from __future__ import annotations

import collections
import dataclasses
import threading
import time
from typing import Mapping

from google.protobuf.message import DecodeError
from stackeye.auth.credentials import AuthError, Credentials
from stackeye.collector.ingest.rate_limits import RateLimited, RateLimits
from stackeye.collector.queue.base import Queue, QueueFull, QueueUnavailable, Record
from stackeye.collector.telemetry import PipelineMetrics
from stackeye.core.signals import Signal, count_items

AGENT_ID_HEADER = "x-stackeye-agent-id"
TENANT_HEADER = "x-stackeye-tenant"
BATCH_ID_HEADER = "stackeye-batch-id"  # a sender's stable id for one request, kept across its retries
MAX_HEADER_BYTES = 1024  # tenant and agent id travel in every queue record's envelope (u16 lengths in the spool)


class IngestError(Exception):
    """A refused request. ``status`` names the gRPC code; HTTP maps it (see otlp_http)."""

    def __init__(self, status: str, reason: str, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.status = status  # INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAUTHENTICATED, UNAVAILABLE
        self.reason = reason  # label for the rejected counter
        self.message = message
        self.retry_after_s = retry_after_s  # set: the sender may retry after this long (gRPC RetryInfo, Retry-After)


@dataclasses.dataclass(frozen=True)
class IngestLimits:
    max_request_bytes: int = 16 << 20  # decompressed OTLP request size


class Authenticator:
    """Bearer tokens, resolved by :class:`stackeye.auth.credentials.Credentials` (the key file's
    ingest tokens and ``--token`` flags). No tokens configured: everyone is tenant "default" (or
    the tenant its ``x-stackeye-tenant`` header names).

    Flag tokens are given as ``TOKEN`` or ``TOKEN=TENANT``.
    """

    def __init__(self, tokens: list[str] | tuple[str, ...] = (), credentials: Credentials | None = None):
        self.credentials = credentials or Credentials(tokens=tokens)

    @property
    def enabled(self) -> bool:
        return self.credentials.ingest_enabled

    def tenant(self, metadata: Mapping[str, str]) -> str:
        try:
            return self.credentials.ingest(metadata.get("authorization"), metadata.get(TENANT_HEADER))
        except AuthError as err:
            raise IngestError("UNAUTHENTICATED", err.reason, err.message) from None


class Receiver:
    def __init__(self, queue: Queue, metrics: PipelineMetrics, limits: IngestLimits = IngestLimits(),
                 auth: Authenticator | None = None, rates: RateLimits | None = None):
        self.queue = queue
        self.metrics = metrics
        self.limits = limits
        self.auth = auth or Authenticator()
        self.rates = rates or RateLimits()
        self._seen: collections.OrderedDict[tuple[str, str], None] = collections.OrderedDict()
        self._seen_lock = threading.Lock()
        self.seen_window = 100_000  # batch ids remembered (the retries of a sender that lost our answer)

    def accept(self, signal: Signal, payload: bytes, metadata: Mapping[str, str], transport: str) -> int:
        """Validate and durably enqueue one request; return its item count or raise IngestError."""
        try:
            tenant = _envelope_field(TENANT_HEADER, self.auth.tenant(metadata))
            agent_id = _envelope_field(AGENT_ID_HEADER, metadata.get(AGENT_ID_HEADER, ""))
            items = self._validate(signal, payload)
            batch_id = metadata.get(BATCH_ID_HEADER, "")
            if batch_id and self._already_queued(tenant, batch_id):
                self.metrics.duplicate_requests.labels(signal=signal.name.lower()).inc()
                return items
            if items:
                self._admit(signal, tenant, items, len(payload))
                record = Record(signal, payload, items, time.time_ns(), tenant, agent_id)
                try:
                    self.queue.put([record])
                except QueueFull as exc:
                    raise IngestError("RESOURCE_EXHAUSTED", getattr(exc, "reason", "queue_full"), str(exc)) from None
                except (QueueUnavailable, OSError) as exc:
                    raise IngestError("UNAVAILABLE", "queue_unavailable", f"cannot store the request durably: {exc}") from None
        except IngestError as err:
            self.metrics.rejected_requests.labels(signal=signal.name.lower(), reason=err.reason).inc()
            raise
        if batch_id:
            self._remember(tenant, batch_id)
        self.metrics.received_requests.labels(signal=signal.name.lower(), transport=transport).inc()
        self.metrics.received_items.labels(signal=signal.name.lower()).inc(items)
        self.metrics.received_bytes.labels(signal=signal.name.lower()).inc(len(payload))
        return items

    def _admit(self, signal: Signal, tenant: str, items: int, nbytes: int) -> None:
        try:
            self.rates.admit(tenant, items, nbytes)
        except RateLimited as exc:
            self.metrics.rate_limited_items.labels(tenant=tenant, signal=signal.name.lower()).inc(items)
            reason = "rate_limited" if exc.retry_after_s is not None else "larger_than_burst"
            raise IngestError("RESOURCE_EXHAUSTED", reason, exc.message, exc.retry_after_s) from None

    def _already_queued(self, tenant: str, batch_id: str) -> bool:
        with self._seen_lock:
            return (tenant, batch_id) in self._seen

    def _remember(self, tenant: str, batch_id: str) -> None:
        with self._seen_lock:
            self._seen[(tenant, batch_id)] = None
            while len(self._seen) > self.seen_window:
                self._seen.popitem(last=False)

    def _validate(self, signal: Signal, payload: bytes) -> int:
        limit = self.limits.max_request_bytes
        if len(payload) > limit:
            raise IngestError("RESOURCE_EXHAUSTED", "too_large",
                              f"request of {len(payload)} bytes is over the limit of {limit} bytes: send smaller batches "
                              f"(e.g. the SDK's max_export_batch_size) or raise max_request_bytes")
        try:
            request = signal.request_type.FromString(payload)
        except DecodeError as exc:
            raise IngestError("INVALID_ARGUMENT", "malformed",
                              f"malformed {signal.request_type.DESCRIPTOR.name}: not a valid protobuf message ({exc})") from None
        return count_items(signal, request)


def _envelope_field(header: str, value: str) -> str:
    """``value`` if it fits a queue record's envelope; else the request is refused, naming the header."""
    try:
        size = len(value.encode())
    except UnicodeEncodeError:
        raise IngestError("INVALID_ARGUMENT", "bad_header", f"the {header} value is not valid UTF-8") from None
    if size > MAX_HEADER_BYTES:
        raise IngestError("INVALID_ARGUMENT", "bad_header",
                          f"the {header} value is over {MAX_HEADER_BYTES} bytes: send a shorter one")
    return value
