"""Kafka: brokers, topics, partitions and consumer-group lag via the admin API (kafka.*). Needs kafka-python."""
from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping

from stackeye.core.config import setting
from stackeye.core.units import DURATION

from ..model import Point
from ..registry import register, require


@dataclasses.dataclass(frozen=True)
class KafkaConfig:
    enabled: bool = setting(False, "Read cluster metadata and consumer-group lag (needs kafka-python: pip install 'stackeye[agent]').")
    bootstrap_servers: str = setting("127.0.0.1:9092", "Comma-separated bootstrap brokers.")
    timeout: float = setting(10.0, "Give up on one scrape after this long.", unit=DURATION, positive=True)
    exclude_internal: bool = setting(True, "Skip internal topics (__consumer_offsets ...).")


def parse_kafka(brokers: Iterable[Mapping], partitions: Iterable[Mapping], end_offsets: Mapping[tuple, int],
               group_offsets: Mapping[str, Mapping[tuple, int]]) -> list[Point]:
    """Points from plain data:

    - brokers: [{"node_id": 1, "host": ..., "port": ...}]
    - partitions: [{"topic", "partition", "leader", "replicas": [ids], "isr": [ids]}]
    - end_offsets: {(topic, partition): next offset}
    - group_offsets: {group: {(topic, partition): committed offset}}  (-1: nothing committed)
    """
    brokers = list(brokers)
    points = [Point("kafka.brokers", float(len(brokers)), {}, "gauge", "{broker}")]
    per_topic: dict[str, int] = {}
    for p in partitions:
        t, n = p["topic"], p["partition"]
        per_topic[t] = per_topic.get(t, 0) + 1
        attrs = {"topic": t, "partition": str(n)}
        points.append(Point("kafka.partition.replicas", float(len(p["replicas"])), attrs, "gauge", "{replica}"))
        points.append(Point("kafka.partition.replicas_in_sync", float(len(p["isr"])), attrs, "gauge", "{replica}"))
        if p.get("leader", -1) < 0:
            points.append(Point("kafka.partition.offline", 1.0, attrs, "gauge", "1"))
        if (t, n) in end_offsets:
            points.append(Point("kafka.partition.current_offset", float(end_offsets[(t, n)]), attrs, "gauge", "1"))
    points += [Point("kafka.topic.partitions", float(c), {"topic": t}, "gauge", "{partition}") for t, c in per_topic.items()]
    for group, offsets in group_offsets.items():
        sums: dict[str, float] = {}
        for (t, n), committed in offsets.items():
            if committed is None or committed < 0 or (t, n) not in end_offsets:
                continue
            lag = max(end_offsets[(t, n)] - committed, 0)
            attrs = {"group": group, "topic": t, "partition": str(n)}
            points.append(Point("kafka.consumer_group.offset", float(committed), attrs, "gauge", "1"))
            points.append(Point("kafka.consumer_group.lag", float(lag), attrs, "gauge", "1"))
            sums[t] = sums.get(t, 0.0) + lag
        points += [Point("kafka.consumer_group.lag_sum", v, {"group": group, "topic": t}, "gauge", "1") for t, v in sums.items()]
    return points


def normalize_metadata(topics: Iterable[Mapping], exclude_internal: bool) -> list[dict]:
    """kafka-python's describe_topics() dicts -> the plain partitions parse_kafka takes."""
    out = []
    for t in topics:
        name = t.get("name", t.get("topic"))
        if exclude_internal and (t.get("is_internal") or str(name).startswith("__")):
            continue
        for p in t.get("partitions", []):
            out.append({
                "topic": name,
                "partition": p.get("partition_index", p.get("partition")),
                "leader": p.get("leader_id", p.get("leader", -1)),
                "replicas": list(p.get("replica_nodes", p.get("replicas", []))),
                "isr": list(p.get("isr_nodes", p.get("isr", []))),
            })
    return out


@register("kafka", default_enabled=False, config=KafkaConfig, middleware=True)
class KafkaCollector:
    """Kafka: brokers, partitions, replicas in sync, end offsets, consumer-group offsets and lag."""

    def __init__(self, config: KafkaConfig):
        self.config = config
        self.target = config.bootstrap_servers.split(",")[0].strip()
        self.admin = None

    def _client(self):
        if self.admin is None:
            KafkaAdminClient = require("kafka", "kafka-python").KafkaAdminClient  # optional: stackeye[agent]

            ms = int(self.config.timeout * 1000)
            self.admin = KafkaAdminClient(bootstrap_servers=self.config.bootstrap_servers.split(","),
                                          client_id="stackeye-agent", request_timeout_ms=ms)
        return self.admin

    def collect(self) -> list[Point]:
        try:
            TopicPartition = require("kafka", "kafka-python").TopicPartition
            admin = self._client()
            brokers = admin.describe_cluster().get("brokers", [])
            partitions = normalize_metadata(admin.describe_topics(), self.config.exclude_internal)
            tps = [TopicPartition(p["topic"], p["partition"]) for p in partitions]
            ends = admin.list_partition_offsets({tp: -1 for tp in tps}) if tps else {}
            end_offsets = {(tp.topic, tp.partition): v.offset for tp, v in ends.items()}
            groups = [g.get("group_id") for g in admin.list_groups()]
            group_offsets = {}
            if groups:
                for group, offsets in admin.list_group_offsets({g: None for g in groups}).items():
                    group_offsets[group] = {(tp.topic, tp.partition): om.offset for tp, om in offsets.items()}
        except Exception:
            self.close()  # reconnect next time
            raise
        return parse_kafka(brokers, partitions, end_offsets, group_offsets)

    def close(self) -> None:
        if self.admin is not None:
            try:
                self.admin.close()
            finally:
                self.admin = None
