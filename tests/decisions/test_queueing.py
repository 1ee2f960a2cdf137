"""The queueing model the latency target sizes replicas with: textbook values, the fit, the sizing."""
from __future__ import annotations

import math

import numpy as np
import pytest
from stackeye.decisions import queueing
from stackeye.decisions.queueing import Model


def test_erlang_c_reference_values():
    assert queueing.erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = ρ
    assert queueing.erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert queueing.erlang_c(2, 2.0) == 1.0 and queueing.erlang_c(3, 0) == 0.0


def test_mm1_response_time_is_exponential():
    m = Model(1, 0.0, 0.1)  # M/M/1: T ~ Exp(μ − λ), so p95 = ln(20) / (μ − λ), mean 1 / (μ − λ)
    assert m.quantile_ms(5.0, 1, 0.95) == pytest.approx(1000 * math.log(20) / 5, rel=1e-6)
    assert m.mean_ms(5.0, 1) == pytest.approx(200)
    assert m.quantile_ms(10.0, 1, 0.95) == math.inf  # saturated


def test_the_tail_matches_a_monte_carlo_run():
    rng = np.random.default_rng(3)
    m, rate, n = Model(2, 0.03, 0.05), 15.0, 400_000  # 2 workers, 80 ms busy: ρ = 0.6
    c = queueing.erlang_c(2, rate * m.busy_s)
    t = m.steady_s + rng.exponential(m.spread_s, n) + (rng.random(n) < c) * rng.exponential(1 / m.wait_rate(rate), n)
    assert m.quantile_ms(rate, 1, 0.95) == pytest.approx(1000 * float(np.quantile(t, 0.95)), rel=0.02)
    assert m.mean_ms(rate, 1) == pytest.approx(1000 * float(t.mean()), rel=0.01)


@pytest.mark.parametrize("rate,replicas,c,mean,observed", [
    (40, 4, 1, None, 250), (200, 10, 4, None, 120), (3, 1, 2, None, 900),
    (60, 3, 2, 60, 130),  # a lighter tail than an exponential's: a steady part is fitted
])
def test_the_fit_reproduces_the_observation(rate, replicas, c, mean, observed):
    m = queueing.fit(rate, replicas, c, mean, observed, 0.95)
    assert m.quantile_ms(rate, replicas, 0.95) == pytest.approx(observed, rel=1e-3)
    if mean is not None:
        assert m.steady_s > 0 and m.mean_ms(rate, replicas) == pytest.approx(mean, rel=1e-3)


def test_a_lognormal_service_is_predicted_at_another_replica_count():
    """Fit at 3 replicas, predict at 5, compare with a simulated M/G/2 fleet (lognormal service)."""
    rng = np.random.default_rng(5)
    def p95_and_mean(replicas, rate=60.0, n=60_000):
        per = rate / replicas
        arrivals = np.cumsum(rng.exponential(1 / per, n))
        service = rng.lognormal(math.log(0.05) - 0.5 * math.log(1.25), math.sqrt(math.log(1.25)), n)  # mean 50 ms, cv 0.5
        free = np.zeros(2)
        done = np.empty(n)
        for i in range(n):
            k = int(np.argmin(free))
            start = max(arrivals[i], free[k])
            free[k] = done[i] = start + service[i]
        latency = (done - arrivals)[n // 10:] * 1000
        return float(np.percentile(latency, 95)), float(latency.mean())
    p95_3, mean_3 = p95_and_mean(3)
    m = queueing.fit(60.0, 3, 2, mean_3, p95_3, 0.95)
    p95_5, _ = p95_and_mean(5)
    assert m.quantile_ms(60.0, 5, 0.95) == pytest.approx(p95_5, rel=0.15)


def test_sizing_is_the_fewest_replicas_meeting_the_slo():
    m = queueing.fit(40, 4, 1, None, 250, 0.95)
    n = queueing.replicas_for(m, 40, 200, 0.95, most=50)
    assert m.quantile_ms(40, n, 0.95) <= 200 < m.quantile_ms(40, n - 1, 0.95)


def test_no_count_helps_when_the_service_time_is_the_latency():
    m = Model(1, 0.0, 0.2)  # p95 of the service alone: 599 ms
    assert m.floor_ms(0.95) == pytest.approx(599.1, abs=0.1)
    assert queueing.replicas_for(m, 1.0, 500, 0.95, most=1000) is None
    assert queueing.replicas_for(Model(1, 0.0, 0.01), 1000.0, 100, 0.95, most=3) is None  # 3 are saturated
