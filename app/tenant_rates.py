"""The per-tenant ingest rate settings (``tenant_max_*``, ``--tenant-limit``, ``ingest_burst_s``)
of ``stackeye up`` and ``stackeye collector`` as the receiver's :class:`RateLimits`."""
from __future__ import annotations

from stackeye.collector.ingest.rate_limits import RateLimits
from stackeye.core.config import ConfigError


def rate_limits(config) -> RateLimits:
    """``config``: an UpConfig or KafkaCollectorConfig; a bad ``--tenant-limit`` is a ConfigError naming it."""
    try:
        return RateLimits.from_settings(config.tenant_max_items_per_s, config.tenant_max_bytes_per_s,
                                        config.tenant_limits, config.ingest_burst_s)
    except ValueError as exc:
        raise ConfigError("tenant_limits", f"{exc} (--tenant-limit, STACKEYE_TENANT_LIMITS)") from None
