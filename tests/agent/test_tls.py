"""TLS with a CA file and the bearer token as gRPC metadata, against a real TLS gRPC server."""
from __future__ import annotations

import queue
from concurrent import futures

import grpc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from stackeye.agent.runtime import Agent
from support.certs import make_certs
from support.services import free_port


def test_tls_with_ca_file_and_bearer_token(tmp_path, make_config):
    make_certs(tmp_path)
    received: queue.Queue = queue.Queue()

    def export(raw, context):
        received.put((dict(context.invocation_metadata()), ExportMetricsServiceRequest.FromString(raw)))
        return b""

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "opentelemetry.proto.collector.metrics.v1.MetricsService",
        {"Export": grpc.unary_unary_rpc_method_handler(export, request_deserializer=None, response_serializer=None)})])
    creds = grpc.ssl_server_credentials([((tmp_path / "server.key").read_bytes(), (tmp_path / "server.pem").read_bytes())])
    port = free_port()
    server.add_secure_port(f"127.0.0.1:{port}", creds)
    server.start()
    agent = Agent(make_config(collector=f"localhost:{port}", token="t0k3n", tls_ca_file=str(tmp_path / "ca.pem"),
                              collectors={n: {"enabled": False} for n in ("cpu", "disk", "filesystem", "network", "processes")}))
    agent.start()
    try:
        agent.collect_once()
        metadata, req = received.get(timeout=60)
    finally:
        agent.stop()
        server.stop(0)
    assert metadata["authorization"] == "Bearer t0k3n"
    names = {m.name for m in req.resource_metrics[0].scope_metrics[0].metrics}
    assert "system.memory.usage" in names and "system.cpu.time" not in names
