"""The templates on generated data in chDB: each fires for the label sets it should and for no other.

Every rule here has no ``for``: a condition that holds fires in the round that sees it."""
from __future__ import annotations

import datetime as dt
import itertools

from stackeye.events import rule_file
from stackeye.events.engine import TriggerEngine
from support import decision_data as data
from support import recent

T0 = recent.at(10, 0)
DAY = dt.timedelta(days=1)
_names = itertools.count()


def minute(m: float, base: dt.datetime = T0) -> dt.datetime:
    return base + dt.timedelta(minutes=m)


def firing(storage, template: str, params: dict, at: dt.datetime) -> list[dict]:
    """The label sets the template's rule fires for at ``at`` (a rule of a new name: no state before)."""
    rule = {"name": f"{template}-{next(_names)}", "template": template, "params": params}
    triggers = rule_file.from_mapping_doc({"trigger": [rule]})
    rnd = TriggerEngine(storage, triggers).evaluate(at)
    assert rnd.failures == []
    return sorted((dict(s.event.labels) for s in rnd.events if s.event.state == "firing"),
                  key=lambda d: sorted(d.items()))


def per_minute(storage, service: str, base: dt.datetime, counts: list[int]) -> None:
    """``counts[m]`` entry spans of ``service`` in minute m after ``base``."""
    for m, n in enumerate(counts):
        if n:
            data.insert(storage, data.spans(service, f"{service}-1", minute(m, base), [10] * n, step_s=50 / n))


def test_throughput_drop_fires_below_the_baseline_of_the_same_time_yesterday(chdb_storage):
    storage = chdb_storage()
    yesterday = T0 - DAY
    per_minute(storage, "checkout", yesterday, [20] * 10)
    per_minute(storage, "checkout", T0, [20] * 5 + [5] * 5)  # a quarter of yesterday's from minute 5
    per_minute(storage, "cart", yesterday, [20] * 10)
    per_minute(storage, "cart", T0, [22] * 10)
    per_minute(storage, "gone", yesterday, [20] * 10)  # stopped entirely today: 0 %
    per_minute(storage, "quiet", yesterday, [1] * 10)  # too few calls yesterday to judge
    params = {"min_pct": "50", "min_calls": "20", "window": "5m"}
    assert firing(storage, "throughput_drop", params, minute(5.5)) == [{"service": "gone"}]
    assert firing(storage, "throughput_drop", params, minute(10.5)) == [{"service": "checkout"}, {"service": "gone"}]
    assert firing(storage, "throughput_drop", {**params, "service": "cart"}, minute(10.5)) == []
    # the minute still being written is left out: a partial minute is no drop
    assert firing(storage, "throughput_drop", {**params, "service": "cart"}, minute(10.1)) == []


def gauges(storage, host: str, metric: str, points, attrs=None) -> None:
    data.insert(storage, data.gauge("stackeye-agent", "", metric, points, host=host, attrs=attrs))


def test_host_cpu_fires_for_the_busy_host_only(chdb_storage):
    storage = chdb_storage()
    for host, idle in (("web-1", 0.05), ("web-2", 0.6)):
        gauges(storage, host, "system.cpu.utilization", [(minute(m), idle) for m in range(5)], {"state": "idle"})
        gauges(storage, host, "system.cpu.utilization", [(minute(m), 1 - idle) for m in range(5)], {"state": "user"})
    assert firing(storage, "host_cpu", {"max_pct": "90"}, minute(5)) == [{"host": "web-1"}]
    assert firing(storage, "host_cpu", {"max_pct": "30"}, minute(5)) == [{"host": "web-1"}, {"host": "web-2"}]
    assert firing(storage, "host_cpu", {"max_pct": "30", "host": "web-2"}, minute(5)) == [{"host": "web-2"}]
    assert firing(storage, "host_cpu", {"max_pct": "30"}, minute(30)) == []  # nothing in the window


def test_host_memory_counts_used_memory_not_the_cache(chdb_storage):
    storage = chdb_storage()
    for host, used, free in (("db-1", 0.95, 0.03), ("web-2", 0.40, 0.02)):  # web-2: the rest is page cache
        gauges(storage, host, "system.memory.utilization", [(minute(m), used) for m in range(5)], {"state": "used"})
        gauges(storage, host, "system.memory.utilization", [(minute(m), free) for m in range(5)], {"state": "free"})
    assert firing(storage, "host_memory", {"max_pct": "90"}, minute(5)) == [{"host": "db-1"}]


def test_host_disk_fires_on_the_latest_use_of_each_filesystem(chdb_storage):
    storage = chdb_storage()
    fs = "system.filesystem.utilization"
    gauges(storage, "web-1", fs, [(minute(0), 0.50), (minute(3), 0.97)], {"mountpoint": "/", "device": "sda1"})
    gauges(storage, "web-1", fs, [(minute(0), 0.50), (minute(3), 0.51)], {"mountpoint": "/data", "device": "sdb1"})
    gauges(storage, "web-2", fs, [(minute(0), 0.97), (minute(3), 0.30)], {"mountpoint": "/", "device": "sda1"})  # cleaned up
    assert firing(storage, "host_disk", {"max_pct": "90"}, minute(4)) == [{"host": "web-1", "mountpoint": "/"}]
    assert firing(storage, "host_disk", {"max_pct": "90", "mountpoint": "/data"}, minute(4)) == []
    assert firing(storage, "host_disk", {"max_pct": "40"}, minute(4)) == [
        {"host": "web-1", "mountpoint": "/"}, {"host": "web-1", "mountpoint": "/data"}]


def test_kafka_lag_sums_the_latest_lag_of_each_topic_of_a_group(chdb_storage):
    storage = chdb_storage()
    lag = "kafka.consumer_group.lag_sum"
    gauges(storage, "kafka-1", lag, [(minute(0), 5000), (minute(2), 800)], {"group": "orders", "topic": "a"})
    gauges(storage, "kafka-1", lag, [(minute(2), 400)], {"group": "orders", "topic": "b"})
    gauges(storage, "kafka-1", lag, [(minute(0), 5000), (minute(2), 10)], {"group": "billing", "topic": "a"})
    assert firing(storage, "kafka_lag", {"max_lag": "1000"}, minute(3)) == [{"group": "orders"}]
    assert firing(storage, "kafka_lag", {"max_lag": "1000", "group": "billing"}, minute(3)) == []
    assert firing(storage, "kafka_lag", {"max_lag": "1000"}, minute(10)) == []  # the lag is older than the window
