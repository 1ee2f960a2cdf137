"""Token buckets per tenant: what fits is taken, what does not says when it will, what never fits says so."""
from __future__ import annotations

import pytest
from stackeye.collector.ingest.rate_limits import RateLimited, RateLimits, TenantRate, parse_tenant_limit


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limits(default=TenantRate(), overrides=None, burst_s=2.0):
    clock = Clock()
    return RateLimits(default, overrides, burst_s, clock=clock), clock


def test_unlimited_by_default_takes_anything():
    rl, _ = limits()
    assert not rl.enabled
    for _ in range(100):
        rl.admit("default", 1_000_000, 1 << 30)


def test_burst_is_taken_at_once_then_the_rate_refills():
    rl, clock = limits(TenantRate(items_per_s=100))
    rl.admit("a", 150, 0)
    rl.admit("a", 50, 0)  # 2 s of 100/s: 200 at once
    with pytest.raises(RateLimited) as err:
        rl.admit("a", 30, 0)
    assert err.value.retry_after_s == pytest.approx(0.3)
    assert "tenant 'a' is over its ingest rate (100 items/s)" in err.value.message
    clock.now += 0.3
    rl.admit("a", 30, 0)  # after the announced delay it fits


def test_a_refused_request_takes_nothing_from_either_bucket():
    rl, clock = limits(TenantRate(items_per_s=100, bytes_per_s=1000))
    rl.admit("a", 10, 2000)  # the byte bucket is empty now, items are at 190
    with pytest.raises(RateLimited) as err:
        rl.admit("a", 10, 500)
    assert err.value.retry_after_s == pytest.approx(0.5)  # the longer of the two waits
    clock.now += 0.5
    rl.admit("a", 190, 500)  # the refused request took no items


def test_tenants_have_their_own_buckets_and_overrides():
    rl, _ = limits(TenantRate(items_per_s=10), {"big": TenantRate(items_per_s=1000), "free": TenantRate()})
    rl.admit("a", 20, 0)
    with pytest.raises(RateLimited):
        rl.admit("a", 1, 0)
    rl.admit("b", 20, 0)  # a's flood leaves b alone
    rl.admit("big", 2000, 0)
    rl.admit("free", 10**9, 0)


def test_a_request_larger_than_the_burst_is_refused_for_good():
    rl, _ = limits(TenantRate(items_per_s=10, bytes_per_s=100))
    with pytest.raises(RateLimited) as err:
        rl.admit("a", 21, 0)
    assert err.value.retry_after_s is None
    assert "send smaller batches" in err.value.message
    with pytest.raises(RateLimited) as err:
        rl.admit("a", 1, 201)
    assert err.value.retry_after_s is None and "request bytes" in err.value.message
    rl.admit("a", 20, 200)  # the refusals took nothing


def test_idle_buckets_are_forgotten_when_there_are_many_tenants(monkeypatch):
    from stackeye.collector.ingest import rate_limits

    monkeypatch.setattr(rate_limits, "_FORGET_ABOVE", 3)
    rl, clock = limits(TenantRate(items_per_s=10))
    for t in ("a", "b", "c"):
        rl.admit(t, 20, 0)
    clock.now += 0.5
    rl.admit("d", 1, 0)  # none is full yet: all kept
    assert len(rl._buckets) == 4
    clock.now += 2
    rl.admit("e", 1, 0)  # all refilled: dropping them changes nothing
    assert set(rl._buckets) == {"e"}


@pytest.mark.parametrize("spec, tenant, rate", [
    ("team-a=5000", "team-a", TenantRate(5000, 0)),
    ("team-a=5000:2MiB", "team-a", TenantRate(5000, 2 << 20)),
    ("team-a=0:1000", "team-a", TenantRate(0, 1000)),
])
def test_parse_tenant_limit(spec, tenant, rate):
    assert parse_tenant_limit(spec) == (tenant, rate)


@pytest.mark.parametrize("spec", ["team-a", "=5", "team-a=", "team-a=fast", "team-a=5:lots", "team-a=-1"])
def test_parse_tenant_limit_refuses_with_the_format(spec):
    with pytest.raises(ValueError, match=r"TENANT=ITEMS_PER_S\[:BYTES_PER_S\]"):
        parse_tenant_limit(spec)
