"""The baselines: HPA on CPU alone (Kubernetes' reference numbers) and Envoy's per-proxy outlier detection."""
from __future__ import annotations

import numpy as np

from stackeye.decisions.simulate import scenarios
from stackeye.decisions.simulate.baselines import EnvoyOutlier, HpaCpu
from stackeye.decisions.simulate.fleet import Tick
from stackeye.decisions.simulate.run import simulate


def _hpa(**kw):
    return HpaCpu(scenarios.get("spike"), **kw)


def test_hpa_3_to_5_at_90_percent_for_60():
    hpa = _hpa()
    assert hpa.recommend(3, {"a": 0.9, "b": 0.9, "c": 0.9}) == 5


def test_hpa_tolerance_keeps_the_count():
    assert _hpa().recommend(3, {"a": 0.65, "b": 0.65, "c": 0.63}) == 3  # ratio 1.07 within 0.1


def test_hpa_starting_pods_count_as_zero_when_scaling_up():
    hpa = _hpa()
    assert hpa.recommend(4, {"a": 0.9, "b": 0.9}, starting=2) == 4  # 1.8/4 = 45 %: the scale-up is dropped
    assert hpa.recommend(4, {"a": 1.0, "b": 1.0}, starting=1) == 4  # 2/3 = 67 % → ratio 1.11 > 1.1: ceil(1.11·3) = 4


def test_hpa_scale_down_waits_for_the_highest_recommendation_of_300s():
    hpa = _hpa()
    assert hpa.stabilize(0, 5, 5) == 5
    assert hpa.stabilize(15, 5, 2) == 5  # 5 is still in the window
    assert hpa.stabilize(299, 5, 2) == 5
    assert hpa.stabilize(301, 5, 2) == 2


def test_hpa_scale_up_is_immediate_and_step_limited():
    hpa = _hpa()
    assert hpa.stabilize(0, 2, 20) == 20
    assert hpa.limit(2, 20) == 6  # max(+4 pods, +100 %) per 15 s
    assert hpa.limit(10, 40) == 20  # the max_replicas of the scenario
    assert hpa.limit(3, 0) == 2  # min_replicas


def _tick(t0, statuses_by_host, proxy=0, proxies=3):
    hosts = tuple(statuses_by_host)
    replica = np.concatenate([np.full(len(s), i) for i, s in enumerate(statuses_by_host.values())])
    status = np.concatenate([np.asarray(s) for s in statuses_by_host.values()])
    n = status.size
    return Tick(t0, 1.0, hosts, np.ones(len(hosts), bool), np.zeros(len(hosts)), t0 + np.arange(n) / n,
                np.full(n, proxy), replica, np.full(n, 10.0), status, float(n))


def test_envoy_ejects_on_5_consecutive_5xx_in_the_proxy_that_saw_them_only():
    envoy = EnvoyOutlier(scenarios.get("failing-instance"))
    envoy.observe(_tick(0, {"a": [500, 500, 500, 500, 200], "b": [200] * 5}, proxy=0))
    assert envoy.decide(1.0).weights[0]["a"] == 1.0  # four in a row is not enough
    envoy.observe(_tick(1, {"a": [500] * 5, "b": [200] * 5}, proxy=0))
    w = envoy.decide(2.0).weights
    assert w[0]["a"] == 0.0 and w[1]["a"] == 1.0 and w[2]["a"] == 1.0


def test_envoy_ejection_time_grows_with_times_ejected():
    envoy = EnvoyOutlier(scenarios.get("failing-instance"))
    envoy.observe(_tick(0, {"a": [500] * 5, "b": [200]}, proxy=0))
    assert envoy.views[0].ejected_until["a"] == 1.0 + 30
    for t in range(1, 40):
        envoy.observe(_tick(t, {"a": [], "b": [200]}, proxy=0))
    assert envoy.decide(40.0).weights[0]["a"] == 1.0  # back after 30 s (at the next 10 s interval)
    envoy.observe(_tick(40, {"a": [500] * 5, "b": [200]}, proxy=0))
    assert envoy.views[0].ejected_until["a"] == 41.0 + 60


def test_envoy_success_rate_needs_five_hosts_with_100_requests_each():
    s = scenarios.get("failing-instance")
    ok, bad = [200] * 100, [200, 500] * 50  # never 5 in a row: only success rate can catch it
    envoy = EnvoyOutlier(s)
    for t in range(10):
        envoy.observe(_tick(t, {"a": bad[:9], "b": ok[:9], "c": ok[:9], "d": ok[:9], "e": ok[:9]}))
    assert envoy.decide(10.0).weights[0]["a"] == 1.0  # 90 requests per host in the interval: not checked
    # 100 per host per interval: the check runs and ejects 'a' (mean − 1.9 σ)
    envoy = EnvoyOutlier(s)
    for t in range(10):
        envoy.observe(_tick(t, {"a": bad[:10] * 2, "b": ok[:20], "c": ok[:20], "d": ok[:20], "e": ok[:20]}))
    assert envoy.decide(10.0).weights[0]["a"] == 0.0
    # four hosts only: no success-rate check at all
    envoy = EnvoyOutlier(s)
    for t in range(10):
        envoy.observe(_tick(t, {"a": bad[:10] * 2, "b": ok[:20], "c": ok[:20], "d": ok[:20]}))
    assert envoy.decide(10.0).weights[0]["a"] == 1.0


def test_hpa_in_the_simulator_scales_for_the_spike_and_back_after_the_window():
    s = scenarios.get("spike")
    timeline = simulate(s, HpaCpu(s), seed=1)
    replicas = [r.replicas for r in timeline.rows]
    assert replicas[0] == 3 and max(replicas) >= 12 and replicas[-1] <= 4
    ramp_down = s.duration_s * 3 / 5  # the load falls back from here to +60 s
    held = [r.replicas for r in timeline.rows if ramp_down + 60 <= r.t < ramp_down + 300]
    assert min(held) >= 12  # the 300 s window keeps the peak's recommendation though CPU fell to ~11 %
