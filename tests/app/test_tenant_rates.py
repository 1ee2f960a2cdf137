"""The tenant rate settings of ``stackeye up`` and ``stackeye collector`` become the receiver's RateLimits."""
from __future__ import annotations

import pytest
from stackeye.app.collector_config import KafkaCollectorConfig
from stackeye.app.tenant_rates import rate_limits
from stackeye.app.up_config import UpConfig
from stackeye.collector.ingest.rate_limits import TenantRate
from stackeye.core.config import ConfigError, load


def test_unlimited_by_default():
    assert not rate_limits(load(UpConfig, env={})).enabled


@pytest.mark.parametrize("cls, extra", [(UpConfig, {}), (KafkaCollectorConfig, {"STACKEYE_KAFKA": "k:9092"})])
def test_defaults_overrides_and_burst_from_env_and_flags(cls, extra):
    cfg = load(cls, env={"STACKEYE_TENANT_MAX_ITEMS_PER_S": "5000", "STACKEYE_TENANT_MAX_BYTES_PER_S": "4MiB",
                         "STACKEYE_INGEST_BURST_S": "500ms", **extra},
               flags={"tenant_limits": ["big=50000:64MiB", "free=0"]})
    limits = rate_limits(cfg)
    assert limits.default == TenantRate(5000, 4 << 20) and limits.burst_s == 0.5
    assert limits.rate("big") == TenantRate(50000, 64 << 20) and limits.rate("free").unlimited


@pytest.mark.parametrize("cls, extra", [(UpConfig, {}), (KafkaCollectorConfig, {"STACKEYE_KAFKA": "k:9092"})])
def test_a_bad_tenant_limit_names_the_flag_and_the_format(cls, extra):
    with pytest.raises(ConfigError, match=r"tenant_limits: expected TENANT=ITEMS_PER_S\[:BYTES_PER_S\].*--tenant-limit"):
        load(cls, env=extra, flags={"tenant_limits": ["team-a:5000"]})


def test_attribute_limits_from_settings():
    cfg = load(UpConfig, env={"STACKEYE_MAX_ATTRIBUTES": "64", "STACKEYE_MAX_ATTRIBUTE_VALUE_BYTES": "1MiB"})
    limits = cfg.attribute_limits()
    assert (limits.max_attributes, limits.max_key_bytes, limits.max_value_bytes) == (64, 256, 1 << 20)
