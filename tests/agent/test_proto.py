"""The agent protocol's generated code imports as stackeye.proto.agent.v1 and round-trips."""
from __future__ import annotations

import importlib.resources


def test_agent_proto_imports_under_stackeye_namespace():
    from stackeye.proto.agent.v1 import agent_pb2, agent_pb2_grpc

    req = agent_pb2.RegisterRequest(agent_id="a1", host_name="h", collectors=["cpu", "redis"], labels={"env": "t"})
    again = agent_pb2.RegisterRequest.FromString(req.SerializeToString())
    assert again.collectors == ["cpu", "redis"] and again.labels["env"] == "t"
    assert agent_pb2.DESCRIPTOR.package == "stackeye.agent.v1"
    assert hasattr(agent_pb2_grpc, "AgentServiceStub") and hasattr(agent_pb2_grpc, "add_AgentServiceServicer_to_server")


def test_proto_source_ships_as_package_data():
    source = importlib.resources.files("stackeye.proto") / "stackeye" / "agent" / "v1" / "agent.proto"
    assert "package stackeye.agent.v1;" in source.read_text()
