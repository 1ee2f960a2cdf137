"""Per-tenant ingest rate limits: one tenant's flood must not fill the spool the others share.

Each tenant has two token buckets, items/s (spans, log records, data points) and request bytes/s,
each holding ``burst_s`` seconds of its rate. A request takes from both or from neither; a refusal
says when the buckets will have room, which the front ends send as gRPC RetryInfo / HTTP
Retry-After, so an OTLP exporter backs off exactly as long as needed. A request bigger than a
bucket can ever hold is refused for good: retrying it would never succeed.

Idle buckets refill to full; a full bucket is the same as a new one, so those are forgotten when
there are many tenants (the tenant may come from a header when no tokens are configured).
"""
from __future__ import annotations

import dataclasses
import math
import threading
import time
from typing import Callable, Iterable, Mapping

from stackeye.core.units import parse_size

UNLIMITED = 0.0
_FORGET_ABOVE = 10_000  # buckets kept before the full (idle) ones are dropped
_SLACK_S = 1e-6  # a wait shorter than this is float rounding: the request fits


@dataclasses.dataclass(frozen=True)
class TenantRate:
    """A tenant's sustained rate; 0 = unlimited."""

    items_per_s: float = UNLIMITED
    bytes_per_s: float = UNLIMITED

    @property
    def unlimited(self) -> bool:
        return not self.items_per_s and not self.bytes_per_s


def parse_tenant_limit(spec: str) -> tuple[str, TenantRate]:
    """``TENANT=ITEMS_PER_S[:BYTES_PER_S]`` (``--tenant-limit``); ValueError says what was expected."""
    tenant, sep, rates = spec.partition("=")
    items, _, nbytes = rates.partition(":")
    expected = f"expected TENANT=ITEMS_PER_S[:BYTES_PER_S] (e.g. team-a=5000:2MiB), got {spec!r}"
    if not sep or not tenant.strip() or not items.strip():
        raise ValueError(expected)
    try:
        rate = TenantRate(float(items), float(parse_size(nbytes.strip())) if nbytes.strip() else UNLIMITED)
    except ValueError:
        raise ValueError(expected) from None
    if rate.items_per_s < 0 or not math.isfinite(rate.items_per_s):
        raise ValueError(f"{expected}: a rate is a number >= 0 (0 = unlimited)")
    return tenant.strip(), rate


class RateLimited(Exception):
    """A refused request. ``retry_after_s`` is None when it can never fit (send smaller batches)."""

    def __init__(self, message: str, retry_after_s: float | None):
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s


class TokenBucket:
    """``rate`` tokens a second, at most ``capacity``; starts full. Not thread-safe (the caller locks)."""

    __slots__ = ("rate", "capacity", "level", "updated")

    def __init__(self, rate: float, capacity: float, now: float):
        self.rate, self.capacity, self.level, self.updated = rate, capacity, capacity, now

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_for(self, n: float) -> float:
        """Seconds until ``n`` tokens are there (0: now); call after :meth:`refill`."""
        return max(0.0, (n - self.level) / self.rate)

    def full(self) -> bool:
        return self.level >= self.capacity


class RateLimits:
    """The ingest rate of every tenant: ``default`` unless ``overrides`` names the tenant."""

    def __init__(self, default: TenantRate = TenantRate(), overrides: Mapping[str, TenantRate] | None = None,
                 burst_s: float = 2.0, clock: Callable[[], float] = time.monotonic):
        if burst_s <= 0:
            raise ValueError("ingest_burst_s must be > 0")
        self.default = default
        self.overrides = dict(overrides or {})
        self.burst_s = burst_s
        self._clock = clock
        self._buckets: dict[str, tuple[TokenBucket | None, TokenBucket | None]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, items_per_s: float, bytes_per_s: float, tenant_limits: Iterable[str],
                      burst_s: float) -> "RateLimits":
        return cls(TenantRate(items_per_s, bytes_per_s), dict(parse_tenant_limit(s) for s in tenant_limits), burst_s)

    @property
    def enabled(self) -> bool:
        return not self.default.unlimited or any(not r.unlimited for r in self.overrides.values())

    def rate(self, tenant: str) -> TenantRate:
        return self.overrides.get(tenant, self.default)

    def admit(self, tenant: str, items: int, nbytes: int) -> None:
        """Take ``items`` and ``nbytes`` from the tenant's buckets or raise :class:`RateLimited`."""
        rate = self.rate(tenant)
        if rate.unlimited:
            return
        wanted = ((items, "items", "spans, log records or data points"), (nbytes, "bytes", "request bytes"))
        with self._lock:
            now = self._clock()
            buckets = self._buckets.get(tenant)
            if buckets is None:
                buckets = self._buckets[tenant] = self._new_buckets(rate, now)
            wait = 0.0
            for bucket, (n, unit, what) in zip(buckets, wanted):
                if bucket is None:
                    continue
                if n > bucket.capacity:
                    raise RateLimited(
                        f"a request of {n} {what} is more than tenant {tenant!r} may send at once "
                        f"({bucket.capacity:g} {unit}: {bucket.rate:g}/s for ingest_burst_s={self.burst_s:g}): "
                        "send smaller batches (e.g. the SDK's max_export_batch_size) or raise the tenant's limit",
                        None)
                bucket.refill(now)
                wait = max(wait, bucket.wait_for(n))
            if wait > _SLACK_S:
                raise RateLimited(f"tenant {tenant!r} is over its ingest rate ({self._describe(rate)}): "
                                  f"retry in {wait:.3g} s", wait)
            for bucket, (n, _, _) in zip(buckets, wanted):
                if bucket is not None:
                    bucket.level -= n

    def _new_buckets(self, rate: TenantRate, now: float):
        if len(self._buckets) >= _FORGET_ABOVE:
            for name, pair in list(self._buckets.items()):
                if all(b is None or (b.refill(now) or b.full()) for b in pair):
                    del self._buckets[name]
        return tuple(TokenBucket(r, r * self.burst_s, now) if r else None for r in (rate.items_per_s, rate.bytes_per_s))

    @staticmethod
    def _describe(rate: TenantRate) -> str:
        parts = [f"{rate.items_per_s:g} items/s"] if rate.items_per_s else []
        parts += [f"{rate.bytes_per_s:g} bytes/s"] if rate.bytes_per_s else []
        return ", ".join(parts)
