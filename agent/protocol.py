"""Client side of stackeye.agent.v1: register at start, heartbeat, pull central config on change.

The protocol is best-effort: a collector without the AgentService (UNIMPLEMENTED) or one that is
down never stops the agent from collecting and shipping; it is retried at the heartbeat interval.
"""
from __future__ import annotations

import logging
import threading

import grpc
from stackeye.core.version import __version__
from stackeye.proto.agent.v1 import agent_pb2, agent_pb2_grpc

from .shipper.sender import ChannelTLS, auth_metadata, channel_for

log = logging.getLogger("stackeye.agent.protocol")


class ProtocolClient:
    def __init__(self, agent):
        self.agent = agent
        cfg = agent.cfg
        self.channel = channel_for(cfg.collector, cfg.channel_tls(), cfg.gzip)
        self.stub = agent_pb2_grpc.AgentServiceStub(self.channel)
        self.metadata = auth_metadata(cfg.token)
        self.timeout = cfg.request_timeout
        self.registered = False
        self.unsupported = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stackeye-agent-protocol", daemon=True)

    def start(self) -> "ProtocolClient":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout + 2)
        self.channel.close()

    def register(self) -> None:
        a = self.agent
        resp = self.stub.Register(agent_pb2.RegisterRequest(
            agent_id=a.agent_id, host_name=a.resource.get("host.name", ""), host_id=a.resource.get("host.id", ""),
            os_type=a.resource.get("os.type", ""), version=__version__, collectors=sorted(a.instances),
            labels=dict(a.cfg.resource)), timeout=self.timeout, metadata=self.metadata)
        self.registered = True
        log.info("registered with collector %s as agent %s", a.cfg.collector, a.agent_id)
        self._apply(resp.config)

    def heartbeat(self) -> None:
        a = self.agent
        stats = {"queue_depth": float(a.queue.depth), "queue_bytes": float(a.queue.bytes),
                 "sent": float(a.shipper.sent), "dropped": float(a.queue.dropped + a.shipper.rejected),
                 "interval_seconds": float(a.interval)}
        try:
            cpu = a._proc.cpu_times()
            stats["cpu_seconds"] = cpu.user + cpu.system
            stats["rss_bytes"] = float(a._proc.memory_info().rss)
        except Exception:  # noqa: BLE001 - stats are best effort
            pass
        resp = self.stub.Heartbeat(agent_pb2.HeartbeatRequest(agent_id=a.agent_id, stats=stats,
                                                              config_version=a.config_version),
                                   timeout=self.timeout, metadata=self.metadata)
        if resp.reregister:
            self.register()
        elif resp.config_version != a.config_version:
            self.pull()

    def pull(self) -> None:
        cfg = self.stub.GetConfig(agent_pb2.GetConfigRequest(agent_id=self.agent.agent_id),
                                  timeout=self.timeout, metadata=self.metadata)
        self._apply(cfg)

    def _apply(self, cfg: agent_pb2.AgentConfig) -> None:
        if cfg.version and cfg.version != self.agent.config_version:
            self.agent.apply_central_config(cfg.version, cfg.interval_seconds, list(cfg.enabled_collectors),
                                            cfg.replace_collectors)

    def _run(self) -> None:
        wait = 0.0
        while not self._stop.wait(wait):
            wait = self.agent.cfg.heartbeat_interval
            try:
                if not self.registered:
                    self.register()
                else:
                    self.heartbeat()
                self.unsupported = False
            except grpc.RpcError as err:
                code = err.code()
                if code == grpc.StatusCode.UNIMPLEMENTED:
                    if not self.unsupported:
                        log.info("collector %s has no agent protocol service; running on local config only",
                                 self.agent.cfg.collector)
                    self.unsupported = True
                elif code == grpc.StatusCode.NOT_FOUND:
                    self.registered = False
                    wait = 0.5
                else:
                    log.debug("agent protocol call failed: %s", code)
                    wait = min(wait, 5.0)


def set_config(collector: str, token: str = "", tls: ChannelTLS | None = None, agent_id: str = "",
               interval: float = 0.0, enabled: list[str] | None = None, replace: bool = False,
               timeout: float = 10.0) -> agent_pb2.AgentConfig:
    """Operators: set the central config of ``agent_id`` ("" = every agent) on the collector."""
    with channel_for(collector, tls) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        return stub.SetConfig(agent_pb2.SetConfigRequest(agent_id=agent_id, interval_seconds=interval,
                                                         enabled_collectors=enabled or [], replace_collectors=replace),
                              timeout=timeout, metadata=auth_metadata(token))
