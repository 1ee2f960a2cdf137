"""Collector side of stackeye.agent.v1: agents register and heartbeat, and pull (operators set)
their central config. Agents live in ClickHouse ``stackeye_agents``, config in
``stackeye_agent_config`` (migration 004).

Mounted on the OTLP/gRPC server by :mod:`stackeye.collector.ingest.grpc_services`; it uses the
same bearer tokens as OTLP ingest, and each token's tenant scopes the agents it sees.
"""
from __future__ import annotations

import logging
import math
import threading
import time

import grpc
from stackeye.proto.agent.v1 import agent_pb2, agent_pb2_grpc

log = logging.getLogger("stackeye.ingest.agents")

HEARTBEAT_FLUSH_SECONDS = 2.0
MAX_AGENT_ID_BYTES = 1024  # it is quoted into every lookup's SQL, which ClickHouse caps (max_query_size)


def sql_string(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_array(values) -> str:
    return "[" + ", ".join(sql_string(v) for v in values) + "]"


def sql_map(mapping, numeric: bool = False) -> str:
    if not mapping:
        return "map()"
    parts = []
    for k, v in mapping.items():
        parts += [sql_string(k), repr(float(v)) if numeric else sql_string(v)]
    return "map(" + ", ".join(parts) + ")"


def _ts(t: float) -> str:
    return f"toDateTime64({t:.3f}, 3)"


class AgentService(agent_pb2_grpc.AgentServiceServicer):
    def __init__(self, context):
        self.storage = context.storage
        self.receiver = getattr(context, "receiver", None)
        self._agents: dict[tuple[str, str], dict] = {}  # (tenant, agent_id) -> last row
        self._pending: dict[tuple[str, str], dict] = {}  # heartbeats not written yet, latest per agent
        self._lock = threading.Lock()
        threading.Thread(target=self._flush_loop, name="stackeye-agent-heartbeats", daemon=True).start()

    # -- helpers -------------------------------------------------------------------------------
    def _tenant(self, context) -> str:
        metadata = {k.lower(): v for k, v in context.invocation_metadata() if isinstance(v, str)}
        auth = getattr(self.receiver, "auth", None)
        if auth is None:
            return "default"
        try:
            return auth.tenant(metadata)
        except Exception as err:  # IngestError: the same message OTLP ingest gives
            context.abort(grpc.StatusCode.UNAUTHENTICATED, getattr(err, "message", str(err)))

    @staticmethod
    def _check_id(agent_id: str, context) -> None:
        if len(agent_id.encode()) > MAX_AGENT_ID_BYTES:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"agent_id is over {MAX_AGENT_ID_BYTES} bytes: use a shorter id (e.g. the machine id)")

    @staticmethod
    def _values(row: dict) -> str:
        return (f"({sql_string(row['tenant'])}, {sql_string(row['agent_id'])}, {sql_string(row['host_name'])}, "
                f"{sql_string(row['host_id'])}, {sql_string(row['os_type'])}, {sql_string(row['version'])}, "
                f"{sql_array(row['collectors'])}, {sql_map(row['labels'])}, {sql_map(row['stats'], numeric=True)}, "
                f"{int(row['config_version'])}, {_ts(row['registered_at'])}, {_ts(row['last_heartbeat'])})")

    def _write(self, rows: list[dict]) -> None:
        self.storage.execute(
            "INSERT INTO stackeye_agents (Tenant, AgentId, HostName, HostId, OsType, Version, Collectors, Labels, "
            "Stats, ConfigVersion, RegisteredAt, LastHeartbeat) VALUES " + ", ".join(self._values(r) for r in rows))

    def flush(self) -> None:
        """Write the heartbeats received since the last flush in one INSERT (a fleet heartbeating
        every 30 s must not become thousands of tiny inserts)."""
        with self._lock:
            rows, self._pending = list(self._pending.values()), {}
        if rows:
            try:
                self._write(rows)
            except Exception:  # noqa: BLE001 - the next heartbeat writes the agent again
                log.exception("could not store %d agent heartbeats", len(rows))

    def _flush_loop(self) -> None:
        while True:
            time.sleep(HEARTBEAT_FLUSH_SECONDS)
            self.flush()

    def _known(self, tenant: str, agent_id: str) -> dict | None:
        with self._lock:
            row = self._agents.get((tenant, agent_id))
        if row is not None:
            return row
        res = self.storage.query(
            "SELECT HostName, HostId, OsType, Version, Collectors, Labels, toFloat64(RegisteredAt) "
            f"FROM stackeye_agents FINAL WHERE Tenant = {sql_string(tenant)} AND AgentId = {sql_string(agent_id)}")
        if not res.rows:
            return None
        h, hid, os_type, version, collectors, labels, registered = res.rows[0]
        row = {"tenant": tenant, "agent_id": agent_id, "host_name": h, "host_id": hid, "os_type": os_type,
               "version": version, "collectors": list(collectors), "labels": dict(labels or {}), "stats": {},
               "config_version": 0, "registered_at": float(registered), "last_heartbeat": float(registered)}
        with self._lock:
            self._agents[(tenant, agent_id)] = row
        return row

    def _config(self, tenant: str, agent_id: str) -> agent_pb2.AgentConfig:
        res = self.storage.query(
            "SELECT Version, IntervalSeconds, EnabledCollectors, ReplaceCollectors FROM stackeye_agent_config FINAL "
            f"WHERE Tenant = {sql_string(tenant)} AND AgentId IN ({sql_string(agent_id)}, '') "
            "ORDER BY AgentId DESC LIMIT 1")
        if not res.rows:
            return agent_pb2.AgentConfig()
        version, interval, collectors, replace = res.rows[0]
        return agent_pb2.AgentConfig(version=int(version), interval_seconds=float(interval),
                                     enabled_collectors=list(collectors), replace_collectors=bool(replace))

    # -- RPCs ----------------------------------------------------------------------------------
    def Register(self, request, context):
        tenant = self._tenant(context)
        if not request.agent_id:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "agent_id is required")
        self._check_id(request.agent_id, context)
        now = time.time()
        row = {"tenant": tenant, "agent_id": request.agent_id, "host_name": request.host_name,
               "host_id": request.host_id, "os_type": request.os_type, "version": request.version,
               "collectors": list(request.collectors), "labels": dict(request.labels), "stats": {},
               "config_version": 0, "registered_at": now, "last_heartbeat": now}
        self._write([row])
        with self._lock:
            self._agents[(tenant, request.agent_id)] = row
            self._pending.pop((tenant, request.agent_id), None)
        log.info("agent %s registered from host %s (v%s, collectors: %s)", request.agent_id, request.host_name,
                 request.version, ", ".join(request.collectors))
        return agent_pb2.RegisterResponse(config=self._config(tenant, request.agent_id))

    def Heartbeat(self, request, context):
        tenant = self._tenant(context)
        self._check_id(request.agent_id, context)
        row = self._known(tenant, request.agent_id)
        if row is None:
            return agent_pb2.HeartbeatResponse(reregister=True)
        row = {**row, "stats": dict(request.stats), "config_version": request.config_version,
               "last_heartbeat": time.time()}
        with self._lock:
            self._agents[(tenant, request.agent_id)] = row
            self._pending[(tenant, request.agent_id)] = row
        return agent_pb2.HeartbeatResponse(config_version=self._config(tenant, request.agent_id).version)

    def GetConfig(self, request, context):
        tenant = self._tenant(context)
        self._check_id(request.agent_id, context)
        return self._config(tenant, request.agent_id)

    def SetConfig(self, request, context):
        tenant = self._tenant(context)
        self._check_id(request.agent_id, context)
        if not math.isfinite(request.interval_seconds):  # stored, it would break every agent's config read
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "interval_seconds must be a finite number of seconds")
        if request.interval_seconds and request.interval_seconds < 1:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "interval_seconds must be at least 1 (or 0 to keep the agents' own)")
        version = time.time_ns() // 1000  # increases with every change, no read needed
        self.storage.execute(
            "INSERT INTO stackeye_agent_config (Tenant, AgentId, Version, IntervalSeconds, EnabledCollectors, "
            f"ReplaceCollectors, UpdatedAt) VALUES ({sql_string(tenant)}, {sql_string(request.agent_id)}, {version}, "
            f"{float(request.interval_seconds)!r}, {sql_array(request.enabled_collectors)}, "
            f"{'true' if request.replace_collectors else 'false'}, {_ts(time.time())})")
        log.info("central agent config v%d set for %s", version, request.agent_id or "every agent")
        return self._config(tenant, request.agent_id)


def mount(server, context) -> None:
    """grpc_services entry: add the AgentService to the OTLP/gRPC server."""
    agent_pb2_grpc.add_AgentServiceServicer_to_server(AgentService(context), server)
