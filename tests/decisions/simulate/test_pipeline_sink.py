"""The simulated traffic through a real embedded stackeye: every request one span with its simulated
timestamp, every live replica a CPU gauge; the stored rows give the simulator's own aggregates."""
from __future__ import annotations

import datetime as dt
import os

import pytest

from stackeye.cli.decide_simulate import embedded_stackeye
from stackeye.decisions.simulate import scenarios
from stackeye.decisions.simulate.aggregate import Window
from stackeye.decisions.simulate.fleet import Fleet
from stackeye.decisions.simulate.pipeline import PipelineSink
from support import recent

EPOCH = recent.at(12, 0)


@pytest.fixture(scope="module")
def stored(chdb_path):
    s = scenarios.get("failing-instance")
    fleet, window = Fleet(s, seed=5), Window(60.0)
    epoch = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=1)
    # chDB opens one data path per process: the embedded stackeye's is this test process's
    with embedded_stackeye(os.path.dirname(chdb_path)) as (storage, otlp_url):
        sink = PipelineSink(otlp_url, storage, s.service, epoch)
        fleet.scale(6, 0.0)  # one replica starting: it must send nothing
        for i in range(int(s.onset_s) + 10):
            tick = fleet.tick(float(i))
            sink.send(tick)
            window.add(tick)
        sink.flush()
        yield storage, window, epoch, sink


def test_every_request_is_a_span_at_its_simulated_time(stored):
    storage, window, epoch, sink = stored
    rows = storage.query("SELECT count(), toUnixTimestamp64Nano(min(Timestamp)), toUnixTimestamp64Nano(max(Timestamp)), uniqExact(ResourceAttributes['service.instance.id']) "
                         "FROM otel_traces WHERE ServiceName = 'checkout' AND SpanKind = 'Server'").rows
    count, first, last, instances = rows[0]
    assert count == sink.sent[0] > 0
    start = epoch.timestamp()
    assert start <= int(first) / 1e9 < start + 1 and int(last) / 1e9 < start + window.ticks[-1].t0 + 1
    assert instances == 6
    sixth = storage.query("SELECT toUnixTimestamp64Nano(min(Timestamp)) FROM otel_traces "
                          "WHERE ResourceAttributes['service.instance.id'] = 'checkout-006'").rows[0][0]
    assert int(sixth) / 1e9 >= start + scenarios.get("failing-instance").replica.startup_s  # served once live


def test_stored_rows_give_the_simulators_aggregates(stored):
    storage, window, epoch, _ = stored
    at = epoch + dt.timedelta(seconds=window.ticks[-1].t0 + 1)
    lo = (at - dt.timedelta(seconds=60)).strftime("%Y-%m-%d %H:%M:%S")
    hi = at.strftime("%Y-%m-%d %H:%M:%S")
    q = (f"SELECT ResourceAttributes['service.instance.id'] AS i, count(), countIf(StatusCode IN ('Error', 'STATUS_CODE_ERROR')), "
         f"quantileExact(0.95)(Duration / 1e6) FROM otel_traces WHERE ServiceName = 'checkout' "
         f"AND Timestamp >= toDateTime64('{lo}', 9, 'UTC') AND Timestamp < toDateTime64('{hi}', 9, 'UTC') "
         f"GROUP BY i ORDER BY i")
    stored_rows = {r[0]: (r[1], r[2]) for r in storage.query(q).rows}
    load = window.service_load("checkout", at)
    assert stored_rows == {i.instance: (i.requests, i.errors) for i in load.instances}
    assert stored_rows["checkout-001"][1] > 0  # the failing instance
    cpu = storage.query(f"SELECT ResourceAttributes['service.instance.id'] AS i, avg(Value) FROM otel_metrics_gauge "
                        f"WHERE MetricName = 'process.cpu.utilization' AND TimeUnix >= toDateTime64('{lo}', 9, 'UTC') "
                        f"AND TimeUnix < toDateTime64('{hi}', 9, 'UTC') GROUP BY i ORDER BY i").rows
    assert {i: round(100 * v, 6) for i, v in cpu} == {i.instance: round(i.cpu_pct, 6) for i in load.instances}
