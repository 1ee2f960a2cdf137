"""The autoscale policy as tables: HPA's reference cases, the rules that limit, the targets beyond HPA."""
from __future__ import annotations

import datetime as dt

import pytest
from stackeye.core.config import ConfigError
from stackeye.decisions import codec, policy_file
from stackeye.decisions.autoscale import POLICY, AutoscaleSettings
from stackeye.decisions.model import AutoscaleState, HourLoad, InstanceLoad, ServiceLoad

NOW = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.timezone.utc)
T = NOW.timestamp()


def load(cpus, rps=None, p95=None, lag=None, history=(), at=NOW):
    instances = tuple(InstanceLoad(f"r{i}", f"h{i}", 100, 0, c) for i, c in enumerate(cpus))
    requests = int((rps if rps is not None else 5 * len(cpus)) * 60)
    return ServiceLoad("checkout", at, 60.0, instances, requests, 0, None, p95, None, lag, tuple(history))


def decide(settings, service_load, state=None, now=NOW):
    (d,), new = POLICY.decide(service_load, settings, state or AutoscaleState(), now)
    return d, new


@pytest.mark.parametrize("cpus,settings,desired,limiting", [
    ([90] * 3, AutoscaleSettings(cpu_pct=60), 5, "cpu"),             # HPA's reference case
    ([90] * 3, AutoscaleSettings(), 5, "cpu"),                       # no target named: CPU 60 %
    ([64] * 3, AutoscaleSettings(cpu_pct=60), 3, "tolerance"),
    ([300] * 8, AutoscaleSettings(cpu_pct=60, max_replicas=10), 10, "max_replicas"),
    ([300] * 2, AutoscaleSettings(cpu_pct=60, max_replicas=50), 6, "step_limit"),  # +4 pods beats +100 %
    ([5] * 4, AutoscaleSettings(cpu_pct=60, min_replicas=2), 2, "min_replicas"),
])
def test_one_evaluation(cpus, settings, desired, limiting):
    d, _ = decide(settings, load(cpus))
    assert (d.current_replicas, d.desired_replicas, d.limiting_target) == (len(cpus), desired, limiting), d.reason
    assert d.reason.endswith(f"{len(cpus)} → {desired}" if desired != len(cpus) else f"stay at {desired}")
    assert d.applied["tolerance"] == 0.1 and d.applied["scale_down_stabilization_s"] == 300


def test_the_reason_is_a_sentence_with_the_numbers():
    d, _ = decide(AutoscaleSettings(cpu_pct=60), load([90] * 3))
    assert d.reason == "CPU 90% per replica against a target of 60% asks 5: scale up 3 → 5"
    assert [(r.target, r.observed, r.goal, r.desired) for r in d.recommendations] == [("cpu", 90.0, 60.0, 5)]


def test_scale_down_waits_for_the_stabilization_window():
    s = AutoscaleSettings(cpu_pct=60)
    up, state = decide(s, load([90] * 3))
    assert up.desired_replicas == 5
    quiet = load([10] * 5)
    for after in (15, 120, 299):
        d, state = decide(s, quiet, state, NOW + dt.timedelta(seconds=after))
        assert (d.desired_replicas, d.limiting_target) == (5, "stabilization"), d.reason
    assert "the last 300s recommended up to 5, so no scale-down below 5" in d.reason
    d, state = decide(s, quiet, state, NOW + dt.timedelta(seconds=301))
    assert d.desired_replicas == 1, d.reason


def test_a_scale_up_window_takes_its_lowest_recommendation():
    s = AutoscaleSettings(cpu_pct=60, scale_up_stabilization=60.0)
    d, state = decide(s, load([70] * 4))  # asks 5
    d, state = decide(s, load([150] * 4), state, NOW + dt.timedelta(seconds=30))  # asks 10: 5 is the window's lowest
    assert (d.desired_replicas, d.limiting_target) == (5, "stabilization")


def test_consecutive_scale_ups_are_limited_per_period():
    s = AutoscaleSettings(cpu_pct=60, max_replicas=100)
    d, state = decide(s, load([600] * 2))
    assert d.desired_replicas == 6
    d, state = decide(s, load([600] * 6), state, NOW + dt.timedelta(seconds=5))
    assert (d.desired_replicas, d.limiting_target) == (6, "step_limit")  # 2 at the period's start: +4 used
    d, state = decide(s, load([600] * 6), state, NOW + dt.timedelta(seconds=20))
    assert d.desired_replicas == 12


def test_a_missing_metric_forbids_scaling_down_but_not_up():
    s = AutoscaleSettings(cpu_pct=60, latency_p95_ms=200)
    down, _ = decide(s, load([10] * 4, p95=None))
    assert (down.desired_replicas, down.limiting_target) == (4, "missing_metrics"), down.reason
    up, _ = decide(s, load([120] * 4, p95=None))
    assert up.desired_replicas == 8 and up.limiting_target == "cpu"


def test_silent_replicas_follow_hpa():
    s = AutoscaleSettings(cpu_pct=60)
    d, _ = decide(s, load([90, 90, None, None]))
    assert d.desired_replicas == 4, d.reason  # as idle they turn 1.5× into 0.75×: no change
    assert "silent" in d.recommendations[0].note


def test_requests_per_replica():
    d, _ = decide(AutoscaleSettings(rps_per_replica=20), load([None] * 4, rps=200))
    assert d.recommendations[0].desired == 10 and d.reason.startswith("50.0 req/s per replica")
    assert (d.desired_replicas, d.limiting_target) == (8, "step_limit")  # +4 (or +100 %) of 4 per 15 s


def test_kafka_lag_per_replica():
    s = AutoscaleSettings(kafka_group="billing", kafka_lag_per_replica=1000)
    d, _ = decide(s, load([None] * 4, lag=7000))
    assert (d.desired_replicas, d.limiting_target) == (7, "kafka_lag")
    none, _ = decide(s, load([None] * 4, lag=None))
    assert none.limiting_target == "no_metrics" and none.desired_replicas == 4


def test_the_latency_slo_sizes_replicas_with_the_queueing_model():
    s = AutoscaleSettings(latency_p95_ms=250, max_replicas=40, scale_up_pods=40)
    d, _ = decide(s, load([None] * 4, rps=40, p95=400))
    assert d.limiting_target == "latency_p95" and d.desired_replicas > 4
    (rec,) = d.recommendations
    assert "fitted service time" in rec.note and "predict" in rec.note
    fine, _ = decide(s, load([None] * 4, rps=40, p95=150))
    assert fine.desired_replicas < 4  # the SLO holds with fewer replicas


def test_more_replicas_do_not_help_a_slow_service():
    s = AutoscaleSettings(latency_p95_ms=100)
    d, _ = decide(s, load([None] * 4, rps=1, p95=400))  # almost no queueing: the time is in the service
    assert "more replicas cannot meet" in d.recommendations[0].note
    assert d.desired_replicas < 4  # it asks for no more, only the fewest that get within 10 % of the best


def test_the_forecast_scales_ahead_of_a_known_ramp():
    s = AutoscaleSettings(cpu_pct=60, forecast_lead=1800)
    ramp = [HourLoad(1, 100, 300), HourLoad(2, 100, 300)]  # the next hour triples
    d, _ = decide(s, load([60] * 4, history=ramp))
    assert (d.desired_replicas, d.limiting_target) == (8, "forecast"), d.reason  # 4 × 2.0, step limit +100 %
    flat, _ = decide(s, load([60] * 4, history=[HourLoad(1, 100, 100)]))
    assert flat.desired_replicas == 4 and all(r.target != "forecast" for r in flat.recommendations)
    off, _ = decide(AutoscaleSettings(cpu_pct=60, forecast=False), load([60] * 4, history=ramp))
    assert off.desired_replicas == 4


def test_no_live_replica_keeps_the_last_decision():
    s = AutoscaleSettings(min_replicas=2)
    d, state = decide(s, load([]))
    assert (d.desired_replicas, d.limiting_target) == (2, "no_instances")
    d, _ = decide(s, load([]), AutoscaleState(last_desired=6))
    assert d.desired_replicas == 6
    woken, _ = decide(AutoscaleSettings(min_replicas=0, kafka_group="g", kafka_lag_per_replica=10), load([], lag=50))
    assert woken.desired_replicas == 1


def test_pure_and_the_state_round_trips():
    s = AutoscaleSettings(cpu_pct=60)
    first = decide(s, load([90] * 3))
    assert decide(s, load([90] * 3)) == first
    state = first[1]
    assert codec.decode(AutoscaleState, codec.encode(state)) == state


@pytest.mark.parametrize("table,field,message", [
    ({"min_replicas": 5, "max_replicas": 2}, "max_replicas", "must be at least min_replicas (5)"),
    ({"cpu_pct": 0}, "cpu_pct", "must be positive"),
    ({"latency_p95_ms": -5}, "latency_p95_ms", "must be positive"),
    ({"kafka_lag_per_replica": 100}, "kafka_group", "needs the consumer group"),
    ({"cpu_pcent": 60}, "cpu_pcent", "cpu_pct"),
])
def test_a_bad_table_names_the_policy_and_field(table, field, message):
    with pytest.raises(ConfigError) as err:
        policy_file.from_mapping_doc({"autoscale": {"checkout": table}}, source="policies.toml")
    assert f"autoscale.checkout.{field}" in str(err.value) and message in str(err.value)
