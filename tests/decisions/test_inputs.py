"""decisions.inputs: spans of several replicas, CPU and lag gauges → the ServiceLoad each service gets."""
from __future__ import annotations

import datetime as dt

import pytest
from stackeye.decisions.inputs import service_loads
from stackeye.query.views.params import Window
from support.decision_data import gauge, insert, spans
from support import recent

AT = recent.at(10, 0, 30)  # not on a minute: raw edges and rollups both serve
WINDOW = Window(AT - dt.timedelta(seconds=60), AT)
T0 = AT - dt.timedelta(seconds=50)


@pytest.fixture(scope="module")
def loaded(chdb_path):
    from stackeye.storage.chdb_storage import ChdbStorage
    from stackeye.storage.url import parse_storage_url

    storage = ChdbStorage(parse_storage_url(f"chdb://{chdb_path}?database=decisions_inputs"))
    storage.migrate()
    yesterday = AT - dt.timedelta(days=1)
    insert(
        storage,
        spans("checkout", "a", T0, [10 * (i + 1) for i in range(10)], host="h1", step_s=1),
        spans("checkout", "b", T0, [200] * 10, host="h2", status=[200] * 8 + [500, 500], step_s=1),
        spans("checkout", "c", AT - dt.timedelta(minutes=3), [5] * 10, host="h3"),  # stopped sending
        spans("checkout", "a", T0, [1] * 5, kind=3, peer="db:5432"),  # its own CLIENT spans are not requests
        spans("batch", "j1", T0, [40] * 4, kind=1),  # INTERNAL root spans: a job without SERVER spans
        gauge("checkout", "a", "process.cpu.utilization", [(T0, 0.5), (T0 + dt.timedelta(seconds=15), 0.7)]),
        gauge("checkout", "b", "process.cpu.utilization", [(T0, 0.2)]),
        gauge("checkout", "c", "process.cpu.utilization", [(AT - dt.timedelta(minutes=3), 0.9)]),
        gauge("kafka", "", "kafka.consumer_group.lag_sum", [(AT - dt.timedelta(seconds=90), 5.0),
                                                             (AT - dt.timedelta(seconds=30), 7.0),
                                                             (AT + dt.timedelta(seconds=30), 100.0)],
              attrs={"group": "orders", "topic": "t1"}),
        gauge("kafka", "", "kafka.consumer_group.lag_sum", [(AT - dt.timedelta(seconds=20), 3.0)],
              attrs={"group": "orders", "topic": "t2"}),
        gauge("kafka", "", "kafka.consumer_group.lag_sum", [(AT - dt.timedelta(seconds=20), 50.0)],
              attrs={"group": "other", "topic": "t1"}),
        # the same hour yesterday: 36 requests (0.01/s), the hour after: 72 (0.02/s)
        spans("checkout", "a", yesterday.replace(minute=20), [10] * 36),
        spans("checkout", "a", yesterday.replace(minute=10) + dt.timedelta(hours=1), [10] * 72),
    )
    yield storage
    storage.close()


def test_live_replicas_with_their_requests_and_cpu(loaded):
    (checkout,) = service_loads(loaded, WINDOW, ["checkout"])
    assert checkout.current_replicas == 2  # c stopped sending three minutes ago: not live
    a, b = checkout.instances
    assert (a.instance, a.host, a.requests, a.errors) == ("a", "h1", 10, 0)
    assert (b.instance, b.host, b.requests, b.errors) == ("b", "h2", 10, 2)
    assert a.cpu_pct == pytest.approx(60.0) and b.cpu_pct == pytest.approx(20.0)


def test_fleet_red_over_all_replicas(loaded):
    (checkout,) = service_loads(loaded, WINDOW, ["checkout"])
    assert (checkout.requests, checkout.errors) == (20, 2)
    assert checkout.rps == pytest.approx(20 / 60)
    assert checkout.mean_ms == pytest.approx((550 + 2000) / 20)
    assert checkout.p95_ms == pytest.approx(200.0) and checkout.p99_ms == pytest.approx(200.0)
    assert checkout.at == AT and checkout.window_s == 60


def test_kafka_lag_is_the_latest_of_each_topic_of_the_group(loaded):
    (checkout,) = service_loads(loaded, WINDOW, ["checkout"], kafka_groups={"checkout": "orders"})
    assert checkout.kafka_lag == pytest.approx(7.0 + 3.0)
    (no_group,) = service_loads(loaded, WINDOW, ["checkout"])
    assert no_group.kafka_lag is None


def test_history_is_the_same_hour_and_the_next_on_previous_days(loaded):
    (checkout,) = service_loads(loaded, WINDOW, ["checkout"])
    (day,) = checkout.history
    assert day.days_ago == 1
    assert day.rps_now == pytest.approx(36 / 3600) and day.rps_ahead == pytest.approx(72 / 3600)


def test_every_service_at_once_and_named_services_without_traffic(loaded):
    everyone = {s.service: s for s in service_loads(loaded, WINDOW)}
    assert set(everyone) == {"checkout", "batch"}
    assert everyone["batch"].current_replicas == 1 and everyone["batch"].requests == 4  # root spans count
    (idle,) = service_loads(loaded, WINDOW, ["idle"])
    assert (idle.current_replicas, idle.requests, idle.p95_ms, idle.history) == (0, 0, None, ())
    assert service_loads(loaded, WINDOW, []) == []


def test_a_later_window_no_longer_sees_the_replicas(loaded):
    later = Window(AT + dt.timedelta(minutes=5), AT + dt.timedelta(minutes=6))
    (checkout,) = service_loads(loaded, later, ["checkout"])
    assert checkout.current_replicas == 0 and checkout.requests == 0
