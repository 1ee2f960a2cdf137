"""The per-tenant ingest rate settings (``tenant_max_*``, ``--tenant-limit``, ``ingest_burst_s``)
of ``stackeye up`` and ``stackeye collector`` as the receiver's :class:`RateLimits`."""
from __future__ import annotations

from stackeye.collector.ingest.rate_limits import RateLimits
from stackeye.core.config import ConfigError, setting
from stackeye.core.units import DURATION, SIZE


# The declarations both config classes use (one field each: `tenant_max_items_per_s: float = max_items_setting()`).
def max_items_setting():
    return setting(0.0, "ingest rate of each tenant in spans, log records and data points a second (0 = unlimited); "
                        "over it a request is refused with RESOURCE_EXHAUSTED + RetryInfo / HTTP 429 + Retry-After",
                   minimum=0.0)


def max_bytes_setting():
    return setting(0, "ingest rate of each tenant in request bytes a second (0 = unlimited)", unit=SIZE, minimum=0)


def tenant_limits_setting():
    return setting((), "a tenant's own rates instead of tenant_max_* (0 = unlimited)",
                   "TENANT=ITEMS_PER_S[:BYTES_PER_S]", flag="--tenant-limit")


def burst_setting():
    return setting(2.0, "a tenant may send this many seconds of its rate at once (the token buckets' size); one "
                        "request over it is refused for good", unit=DURATION, positive=True)


def rate_limits(config) -> RateLimits:
    """``config``: an UpConfig or KafkaCollectorConfig; a bad ``--tenant-limit`` is a ConfigError naming it."""
    try:
        return RateLimits.from_settings(config.tenant_max_items_per_s, config.tenant_max_bytes_per_s,
                                        config.tenant_limits, config.ingest_burst_s)
    except ValueError as exc:
        raise ConfigError("tenant_limits", f"{exc} (--tenant-limit, STACKEYE_TENANT_LIMITS)") from None
