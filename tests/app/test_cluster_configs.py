"""The settings of ``stackeye collector`` and ``stackeye writer``: the flags and defaults they always had."""
from __future__ import annotations

import argparse

import pytest
from stackeye.app.collector_config import KafkaCollectorConfig
from stackeye.app.up_config import UpConfig
from stackeye.app.writer_config import KafkaWriterConfig
from stackeye.cli import collector, writer
from stackeye.cli.options import flag_values
from stackeye.core.config import ConfigError, load
from stackeye.core.signals import Signal


def _parse(module, cls, *argv):
    parser = argparse.ArgumentParser()
    module.configure(parser)
    return load(cls, env={}, flags=flag_values(cls, parser.parse_args(list(argv))))


def test_writer_batches_are_bigger_than_ups_on_purpose():
    w, up = load(KafkaWriterConfig, env={}), load(UpConfig, env={})
    assert (w.batch_max_records, w.batch_max_bytes, w.batch_max_wait) == (2000, 32 << 20, 1.0)
    assert (w.batch_max_records, w.batch_max_bytes) != (up.batch_max_records, up.batch_max_bytes)
    assert w.batch().batch_max_records == 2000 and w.batch().batch_max_wait_s == 1.0


def test_the_old_flags_keep_their_meaning():
    c = _parse(collector, KafkaCollectorConfig, "--kafka", "k1:9092,k2:9092", "--topics", "traces=t", "--partitions",
               "4", "--max-message-bytes", "2000000", "--produce-timeout", "2.5", "--token", "a", "--token", "b=t",
               "--otlp-grpc", "0.0.0.0:4317", "--otlp-http", "0.0.0.0:4318", "--http", "0.0.0.0:8081",
               "--max-request-bytes", "1048576")
    kafka = c.kafka_config(produce_timeout_s=c.produce_timeout)
    assert kafka.brokers == ("k1:9092", "k2:9092") and kafka.topics[Signal.TRACES] == "t" and kafka.partitions == 4
    assert kafka.max_message_bytes == 2_000_000 and kafka.produce_timeout_s == 2.5
    assert c.tokens == ("a", "b=t") and (c.otlp_http, c.http, c.max_request_bytes) == ("0.0.0.0:4318", "0.0.0.0:8081",
                                                                                        1 << 20)
    w = _parse(writer, KafkaWriterConfig, "--kafka", "k1:9092", "--clickhouse", "clickhouse://w:pw@ch:9000/otel",
               "--group", "g", "--no-migrate", "--cluster", "otel3", "--batch-max-records", "10", "--batch-max-bytes",
               "1000", "--batch-max-wait", "0.3", "--connect-timeout", "5")
    assert (w.group, w.migrate, w.cluster, w.connect_timeout) == ("g", False, "otel3", 5.0)
    assert (w.batch_max_records, w.batch_max_bytes, w.batch_max_wait) == (10, 1000, 0.3)
    assert w.storage_url().host == "ch" and w.kafka_config(group_id=w.group).group_id == "g"
    assert (w.http, load(KafkaCollectorConfig, env={}).otlp_http) == ("", ""), "off unless given"


@pytest.mark.parametrize("cls, env, words", [
    (KafkaCollectorConfig, {"STACKEYE_KAFKA": "kafka1"}, "expected host:port"),
    (KafkaCollectorConfig, {"STACKEYE_TOPICS": "nothing"}, "topics: bad --topics entry"),
    (KafkaCollectorConfig, {"STACKEYE_MAX_MESSAGE_BYTES": "1000"}, "must be at least '64KiB'"),
    (KafkaWriterConfig, {"STACKEYE_CLICKHOUSE": "mysql://db/x"}, "clickhouse: unsupported storage URL"),
    (KafkaWriterConfig, {"STACKEYE_BATCH_MAX_WAIT": "-1"}, "STACKEYE_BATCH_MAX_WAIT: expected a duration"),
])
def test_bad_values_are_config_errors(cls, env, words):
    with pytest.raises(ConfigError, match=words):
        load(cls, env=env)
