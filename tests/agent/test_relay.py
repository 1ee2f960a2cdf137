"""The local OTLP relay: an app's stock OTel exporter sends to the agent, the agent adds host
resource attributes and forwards to the collector through its queue."""
from __future__ import annotations

import pytest
from stackeye.agent.otlp_relay import enrich
from stackeye.agent.runtime import Agent
from support.services import free_port

pytestmark = pytest.mark.slow


def test_enrich_adds_host_attributes_but_keeps_the_senders():
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(KeyValue(key="host.name", value=AnyValue(string_value="container-7")))
    rs.scope_spans.add().spans.add(name="x")
    out = ExportTraceServiceRequest.FromString(enrich(req.SerializeToString(), "traces",
                                                      {"host.name": "vm", "host.id": "abc"}))
    attrs = {kv.key: kv.value.string_value for kv in out.resource_spans[0].resource.attributes}
    assert attrs == {"host.name": "container-7", "host.id": "abc"}
    assert out.resource_spans[0].scope_spans[0].spans[0].name == "x"


def test_sdk_spans_and_logs_through_the_relay(stackeye_up, make_config):
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    listen = f"127.0.0.1:{free_port()}"
    agent = Agent(make_config(collector=stackeye_up.otlp_grpc, otlp_listen=listen)).start()
    try:
        provider = TracerProvider(resource=Resource.create({"service.name": "relay-test-app"}))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=listen, insecure=True)))
        tracer = provider.get_tracer("test")
        for i in range(25):
            with tracer.start_as_current_span(f"op-{i}"):
                pass
        provider.shutdown()
        assert stackeye_up.wait_for_count(
            "SELECT count() FROM otel_traces WHERE ServiceName = 'relay-test-app'", 25, 90) == 25
    finally:
        agent.stop()
    rows = stackeye_up.sql("SELECT DISTINCT ResourceAttributes AS r FROM otel_traces WHERE ServiceName = 'relay-test-app'")
    assert len(rows) == 1
    res = rows[0]["r"]
    assert res["host.name"] == agent.resource["host.name"] and res["host.id"] and res["os.type"] == "linux"
    assert agent.relay.requests >= 25
