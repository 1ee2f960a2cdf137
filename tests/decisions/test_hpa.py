"""HPA's arithmetic as tables: one metric, missing metrics, several metrics, stabilization, step limits."""
from __future__ import annotations

import pytest
from stackeye.decisions import hpa

T = 10_000.0


@pytest.mark.parametrize("values,target,expected", [
    ([90, 90, 90], 60, 5),          # the reference: 3 at 90 % against 60 % → ceil(4.5)
    ([65, 65, 65], 60, 3),          # 1.083: inside the 0.1 tolerance
    ([67, 67, 67], 60, 4),          # 1.117: outside → ceil(3.35)
    ([30] * 5, 60, 3),              # 0.5 → ceil(2.5)
    ([50] * 10, 60, 9),             # 0.833 → ceil(8.33)
    ([90, 90, None, None], 60, 4),  # up, the silent two as idle: 0.75 turns it around → no change
    ([90, 90, 90, None], 60, 5),    # up, the silent one as idle: 1.125 → ceil(4.5)
    ([30, 30, None, None], 60, 4),  # down, the silent two at 100 %: 1.083 → within tolerance / turned: no change
    ([10, 10, 10, None], 60, 3),    # down, the silent one at 100 %: (30 + 100) / 4 / 60 = 0.54 → ceil(2.17)
])
def test_per_replica(values, target, expected):
    assert hpa.per_replica(values, target, 0.1, full=100)[0] == expected


def test_no_replica_reporting_is_a_missing_metric():
    assert hpa.per_replica([None, None], 60, 0.1)[0] is None


@pytest.mark.parametrize("total,current,target,expected", [
    (1000, 4, 100, 10), (420, 4, 100, 4), (100, 4, 100, 1), (None, 4, 100, None), (50, 0, 100, 1)])
def test_average_value(total, current, target, expected):
    assert hpa.average_value(total, current, target, 0.1)[0] == expected


@pytest.mark.parametrize("recs,expected", [
    ([("cpu", 5), ("rps", 7)], (7, "rps")),
    ([("cpu", 2), ("latency_p95", None)], (4, "missing_metrics")),   # a missing metric forbids scaling down
    ([("cpu", 6), ("latency_p95", None)], (6, "cpu")),               # but not scaling up
    ([("cpu", None)], (4, "no_metrics")),
])
def test_combine(recs, expected):
    assert hpa.combine(4, recs) == expected


@pytest.mark.parametrize("raw,history,up_s,down_s,expected", [
    (3, [(T - 100, 5)], 0, 300, 5),               # scale-down waits for the window's highest
    (3, [(T - 301, 5), (T - 200, 4)], 0, 300, 4),  # older than the window: forgotten
    (3, [(T - 301, 5)], 0, 300, 3),
    (8, [(T - 30, 6)], 0, 300, 8),                 # scale up at once (window 0)
    (8, [(T - 30, 6)], 60, 300, 6),                # a scale-up window: its lowest recommendation
    (8, [(T - 90, 6)], 60, 300, 8),
])
def test_stabilize(raw, history, up_s, down_s, expected):
    assert hpa.stabilize(raw, 5, history, T, up_s, down_s) == expected


@pytest.mark.parametrize("desired,current,events,expected", [
    (20, 2, [], 6),              # up: +100 % (4) or +4 pods (6), whichever allows more
    (40, 10, [], 20),            # +100 % (20) beats +4 (14)
    (20, 6, [(T - 5, 4)], 6),    # 4 already added in this 15 s period: 2 at its start → at most 6
    (20, 6, [(T - 20, 4)], 12),  # that change is older than the period: +100 % of 6
    (1, 10, [], 1),              # down −100 %: no limit
])
def test_default_step_limits(desired, current, events, expected):
    assert hpa.limit_rate(desired, current, events, T)[0] == expected


def test_a_scale_down_percent_policy():
    down = (hpa.Step("percent", 50, 60),)
    assert hpa.limit_rate(2, 10, [], T, down=down) == (5, "scale-down limit 50% per 60s")
    assert hpa.limit_rate(2, 5, [(T - 30, -5)], T, down=down)[0] == 5  # 10 at the period's start: floor 5 reached
