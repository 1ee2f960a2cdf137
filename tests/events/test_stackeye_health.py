"""stackeye_health on the process's self-metrics written into chDB: the queue over its limit, dead
letters and rejected requests fire, each as its own label set, and resolve when they stop."""
from __future__ import annotations

import datetime as dt

from stackeye.collector.self_metrics import REJECTED_REQUESTS, SelfMetricsWriter
from stackeye.collector.telemetry import PipelineMetrics
from stackeye.events import rule_file
from stackeye.events.engine import TriggerEngine
from support import recent

T0 = recent.at(14, 0)


def minute(m: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=m)


def states(rnd) -> list[tuple[str, str, str]]:
    return sorted((s.event.labels.get("check"), s.event.labels.get("instance"), s.event.state) for s in rnd.events)


def test_pipeline_trouble_fires_per_check_and_resolves(chdb_storage):
    storage = chdb_storage()
    metrics, depth = PipelineMetrics(), [0]
    writer = SelfMetricsWriter(storage, metrics, lambda: depth[0], instance="up-1", started=minute(0))
    params = {"max_queue_mb": "1", "max_dead_letters": "0", "max_rejected": "2", "window": "2m"}
    engine = TriggerEngine(storage, rule_file.from_mapping_doc(
        {"trigger": [{"name": "health", "template": "stackeye_health", "params": params}]}))

    metrics.rejected_requests.labels(signal="traces", reason="unauthenticated").inc(2)  # at the limit, not over
    writer.write(minute(1))
    assert states(engine.evaluate(minute(1.1))) == []

    metrics.rejected_requests.labels(signal="traces", reason="spool_full").inc(3)
    metrics.dead_letters.labels(signal="logs").inc()
    depth[0] = 2 << 20
    writer.write(minute(2))
    assert states(engine.evaluate(minute(2.1))) == [("dead_letters", "up-1", "firing"),
                                                    ("queue_bytes", "up-1", "firing"),
                                                    ("rejected_requests", "up-1", "firing")]
    fired = {s["labels"]["check"]: s["value"] for s in engine.store.history(state="firing")}
    assert fired == {"dead_letters": 1.0, "queue_bytes": float(2 << 20), "rejected_requests": 5.0}

    depth[0] = 0
    writer.write(minute(4))  # nothing new: deltas of 0, the queue drained
    assert states(engine.evaluate(minute(4.5))) == [("dead_letters", "up-1", "resolved"),
                                                    ("queue_bytes", "up-1", "resolved"),
                                                    ("rejected_requests", "up-1", "resolved")]
    total = storage.query(f"SELECT sum(Value) FROM otel_metrics_sum WHERE MetricName = '{REJECTED_REQUESTS}'")
    assert total.rows[0][0] == 5.0  # deltas: each request counted once however often it is written
