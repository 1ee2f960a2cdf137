"""One contract for every registered collector (the node_exporter/Telegraf meta-test)."""
from __future__ import annotations

import dataclasses
import importlib
import inspect

import pytest
from stackeye.agent import config as agent_config
from stackeye.agent import registry
from stackeye.agent.model import Point
from stackeye.agent.registry import Instance

ALL = [c.name for c in registry.all_collectors()]
HOST = [c.name for c in registry.all_collectors() if not c.middleware]
MIDDLEWARE = [c.name for c in registry.all_collectors() if c.middleware]

# An address where nothing listens: each middleware collector pointed there must report up=0.
DOWN = {
    "nginx": {"url": "http://127.0.0.1:9/nginx_status"},
    "redis": {"url": "redis://127.0.0.1:9"},
    "mysql": {"url": "mysql://root@127.0.0.1:9"},
    "postgres": {"url": "postgresql://postgres@127.0.0.1:9/postgres"},
    "kafka": {"bootstrap_servers": "127.0.0.1:9", "timeout": "2s"},
    "jolokia": {"url": "http://127.0.0.1:9/jolokia/"},
}


def test_registry_lists_every_module():
    assert set(ALL) == set(registry.MODULES)
    assert set(MIDDLEWARE) == set(DOWN)


@pytest.mark.parametrize("name", ALL)
def test_config_is_a_documented_frozen_dataclass(name):
    reg = registry.get(name)
    cls = reg.config_class
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
    fields = {f.name: f for f in dataclasses.fields(cls)}
    assert fields["enabled"].default is reg.default_enabled
    if reg.middleware:
        assert reg.default_enabled is False, "middleware collectors are off until configured"
        assert "timeout" in fields, "every middleware collector has a timeout"
    comments = agent_config._field_comments(cls)
    for f in fields:
        assert comments.get(f), f"{name}: field {f!r} has no comment (print-config shows it as the doc)"
    assert reg.doc.strip(), f"{name}: the collector class needs a docstring"
    assert f"[collectors.{name}]" in agent_config.render_toml()


@pytest.mark.parametrize("name", ALL)
def test_has_a_pure_parse_function(name):
    module = importlib.import_module(f"stackeye.agent.collectors.{name}")
    parsers = [n for n, f in inspect.getmembers(module, inspect.isfunction)
               if n.startswith("parse_") and f.__module__ == module.__name__]
    assert parsers, f"{name}: needs a parse_* function tested on canned input"


@pytest.mark.parametrize("name", HOST)
def test_host_collector_lifecycle_on_this_machine(name):
    reg = registry.get(name)
    inst = Instance(reg, reg.config_class(enabled=True))
    for _ in range(2):
        points, duration, ok = inst.run()
        assert ok, inst.last_error
        assert all(isinstance(p, Point) for p in points)
    inst.close()


@pytest.mark.parametrize("name", MIDDLEWARE)
def test_middleware_down_reports_up_0_and_never_raises(name, caplog):
    reg = registry.get(name)
    cfg = agent_config.build_section(reg.config_class, {"enabled": True, **DOWN[name]}, f"collectors.{name}")
    inst = Instance(reg, cfg)
    points, _, ok = inst.run()
    inst.close()
    assert not ok
    ups = [p for p in points if p.name == f"{name}.up"]
    assert len(ups) == 1 and ups[0].value == 0
    assert any(name in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)


def test_a_hung_middleware_never_blocks_the_cycle(make_config):
    """A server that accepts and never answers: the collector times out, reports up=0, the
    agent's cycle still completes with the host metrics."""
    import socket

    from stackeye.agent.runtime import Agent

    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        port = hung.getsockname()[1]
        agent = Agent(make_config(collector="127.0.0.1:9", collectors={
            "redis": {"enabled": True, "url": f"redis://127.0.0.1:{port}", "timeout": "1s"}}))
        try:
            agent.collect_once()
            _, _, payload = agent.queue.peek()
        finally:
            agent.stop(drain_timeout=0)
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    metrics = {m.name: m for m in ExportMetricsServiceRequest.FromString(payload).resource_metrics[0].scope_metrics[0].metrics}
    assert metrics["redis.up"].gauge.data_points[0].as_double == 0
    assert "system.memory.usage" in metrics
    success = {dp.attributes[0].value.string_value: dp.as_double
               for dp in metrics["stackeye.agent.collector.success"].gauge.data_points}
    assert success["redis"] == 0 and success["memory"] == 1
