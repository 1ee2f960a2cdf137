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
CACHE_SECONDS = 2.0  # a tenant's configs read from the table are reused this long (other collectors' SetConfig shows after it)
MAX_INSERT_BYTES = 16 << 20  # one flush INSERT's SQL at most (1 MB labels times a fleet must not become one statement)
MAX_AGENT_ID_BYTES = 1024  # it is quoted into every lookup's SQL, which ClickHouse caps (max_query_size)
MAX_TENANT_BYTES = 1024  # the same, for a tenant named by the x-stackeye-tenant header


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
        self.metrics = getattr(context, "metrics", None) or getattr(self.receiver, "metrics", None)
        self._agents: dict[tuple[str, str], dict] = {}  # (tenant, agent_id) -> last row
        self._pending: dict[tuple[str, str], dict] = {}  # registrations and heartbeats not written yet, latest per agent
        self._loaded: set[str] = set()  # tenants whose agents were read from stackeye_agents
        self._configs: dict[str, tuple[float, dict[str, agent_pb2.AgentConfig]]] = {}  # tenant -> (read at, by agent id)
        self._lock = threading.Lock()
        threading.Thread(target=self._flush_loop, name="stackeye-agent-heartbeats", daemon=True).start()

    # -- helpers -------------------------------------------------------------------------------
    def _refuse(self, context, rpc: str, reason: str, code, message: str):
        if self.metrics is not None:
            self.metrics.refused_agent_requests.labels(rpc, reason).inc()
        context.abort(code, message)

    def _tenant(self, context, rpc: str) -> str:
        metadata = {k.lower(): v for k, v in context.invocation_metadata() if isinstance(v, str)}
        auth = getattr(self.receiver, "auth", None)
        if auth is None:
            return "default"
        try:
            tenant = auth.tenant(metadata)
        except Exception as err:  # IngestError: the same message OTLP ingest gives
            self._refuse(context, rpc, getattr(err, "reason", "unauthenticated"), grpc.StatusCode.UNAUTHENTICATED,
                         getattr(err, "message", str(err)))
        if len(tenant.encode()) > MAX_TENANT_BYTES:
            self._refuse(context, rpc, "bad_tenant", grpc.StatusCode.INVALID_ARGUMENT,
                         f"the tenant is over {MAX_TENANT_BYTES} bytes: name a shorter one")
        return tenant

    def _check_id(self, agent_id: str, context, rpc: str) -> None:
        if len(agent_id.encode()) > MAX_AGENT_ID_BYTES:
            self._refuse(context, rpc, "agent_id_too_long", grpc.StatusCode.INVALID_ARGUMENT,
                         f"agent_id is over {MAX_AGENT_ID_BYTES} bytes: use a shorter id (e.g. the machine id)")

    @staticmethod
    def _values(row: dict) -> str:
        return (f"({sql_string(row['tenant'])}, {sql_string(row['agent_id'])}, {sql_string(row['host_name'])}, "
                f"{sql_string(row['host_id'])}, {sql_string(row['os_type'])}, {sql_string(row['version'])}, "
                f"{sql_array(row['collectors'])}, {sql_map(row['labels'])}, {sql_map(row['stats'], numeric=True)}, "
                f"{int(row['config_version'])}, {_ts(row['registered_at'])}, {_ts(row['last_heartbeat'])})")

    def _write(self, rows: list[dict]) -> None:
        """As few INSERTs as fit :data:`MAX_INSERT_BYTES` each."""
        head = ("INSERT INTO stackeye_agents (Tenant, AgentId, HostName, HostId, OsType, Version, Collectors, Labels, "
                "Stats, ConfigVersion, RegisteredAt, LastHeartbeat) VALUES ")
        chunk, size = [], 0
        for values in map(self._values, rows):
            if chunk and size + len(values) > MAX_INSERT_BYTES:
                self.storage.execute(head + ", ".join(chunk))
                chunk, size = [], 0
            chunk.append(values)
            size += len(values) + 2
        if chunk:
            self.storage.execute(head + ", ".join(chunk))

    def flush(self) -> None:
        """Write the registrations and heartbeats received since the last flush in one INSERT (a fleet
        heartbeating every 30 s, or all re-registering after a restart, must not become thousands of tiny
        inserts). A row lost to a failed flush comes back: the agent is cached, its next heartbeat writes it."""
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
        """The agent's last row. A tenant's agents are read from the table once, at its first heartbeat
        from an agent not cached (after a restart the fleet's heartbeats cost one query, not one each);
        after that an agent not cached is unknown here and told to register again, which is cheap and
        also covers one that registered at another collector of a cluster since."""
        with self._lock:
            row = self._agents.get((tenant, agent_id))
            loaded = tenant in self._loaded
        if row is not None or loaded:
            return row
        res = self.storage.query(
            "SELECT AgentId, HostName, HostId, OsType, Version, Collectors, Labels, toFloat64(RegisteredAt) "
            f"FROM stackeye_agents FINAL WHERE Tenant = {sql_string(tenant)}")
        with self._lock:
            for aid, h, hid, os_type, version, collectors, labels, registered in res.rows:
                self._agents.setdefault((tenant, aid), {
                    "tenant": tenant, "agent_id": aid, "host_name": h, "host_id": hid, "os_type": os_type,
                    "version": version, "collectors": list(collectors), "labels": dict(labels or {}), "stats": {},
                    "config_version": 0, "registered_at": float(registered), "last_heartbeat": float(registered)})
            self._loaded.add(tenant)
            return self._agents.get((tenant, agent_id))

    def _tenant_configs(self, tenant: str) -> dict[str, agent_pb2.AgentConfig]:
        """The tenant's central configs by agent id, read once per :data:`CACHE_SECONDS` (every
        heartbeat answers with its config version)."""
        with self._lock:
            cached = self._configs.get(tenant)
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        loaded_at = time.monotonic()
        res = self.storage.query(
            "SELECT AgentId, Version, IntervalSeconds, EnabledCollectors, ReplaceCollectors FROM stackeye_agent_config "
            f"FINAL WHERE Tenant = {sql_string(tenant)}")
        configs = {aid: agent_pb2.AgentConfig(version=int(version), interval_seconds=float(interval),
                                              enabled_collectors=list(collectors), replace_collectors=bool(replace))
                   for aid, version, interval, collectors, replace in res.rows}
        with self._lock:
            self._configs[tenant] = (loaded_at, configs)
        return configs

    def _config(self, tenant: str, agent_id: str) -> agent_pb2.AgentConfig:
        """The agent's own config, else its tenant's default (AgentId ''), else none."""
        configs = self._tenant_configs(tenant)
        return configs.get(agent_id) or configs.get("") or agent_pb2.AgentConfig()

# -- RPCs ----------------------------------------------------------------------------------
    def Register(self, request, context):
        tenant = self._tenant(context, "Register")
        if not request.agent_id:
            self._refuse(context, "Register", "missing_agent_id", grpc.StatusCode.INVALID_ARGUMENT, "agent_id is required")
        self._check_id(request.agent_id, context, "Register")
        now = time.time()
        row = {"tenant": tenant, "agent_id": request.agent_id, "host_name": request.host_name,
               "host_id": request.host_id, "os_type": request.os_type, "version": request.version,
               "collectors": list(request.collectors), "labels": dict(request.labels), "stats": {},
               "config_version": 0, "registered_at": now, "last_heartbeat": now}
        with self._lock:  # written with the next flush; lost there, the agent's heartbeat writes it again
            self._agents[(tenant, request.agent_id)] = row
            self._pending[(tenant, request.agent_id)] = row
        log.info("agent %s registered from host %s (v%s, collectors: %s)", request.agent_id, request.host_name,
                 request.version, ", ".join(request.collectors))
        return agent_pb2.RegisterResponse(config=self._config(tenant, request.agent_id))

    def Heartbeat(self, request, context):
        tenant = self._tenant(context, "Heartbeat")
        self._check_id(request.agent_id, context, "Heartbeat")
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
        tenant = self._tenant(context, "GetConfig")
        self._check_id(request.agent_id, context, "GetConfig")
        return self._config(tenant, request.agent_id)

    def SetConfig(self, request, context):
        tenant = self._tenant(context, "SetConfig")
        self._check_id(request.agent_id, context, "SetConfig")
        if not math.isfinite(request.interval_seconds):  # stored, it would break every agent's config read
            self._refuse(context, "SetConfig", "bad_interval", grpc.StatusCode.INVALID_ARGUMENT,
                         "interval_seconds must be a finite number of seconds")
        if request.interval_seconds and request.interval_seconds < 1:
            self._refuse(context, "SetConfig", "bad_interval", grpc.StatusCode.INVALID_ARGUMENT,
                         "interval_seconds must be at least 1 (or 0 to keep the agents' own)")
        version = time.time_ns() // 1000  # increases with every change, no read needed
        self.storage.execute(  # at once, unlike heartbeats: an operator's change is stored before it is acknowledged
            "INSERT INTO stackeye_agent_config (Tenant, AgentId, Version, IntervalSeconds, EnabledCollectors, "
            f"ReplaceCollectors, UpdatedAt) VALUES ({sql_string(tenant)}, {sql_string(request.agent_id)}, {version}, "
            f"{float(request.interval_seconds)!r}, {sql_array(request.enabled_collectors)}, "
            f"{'true' if request.replace_collectors else 'false'}, {_ts(time.time())})")
        config = agent_pb2.AgentConfig(version=version, interval_seconds=request.interval_seconds,
                                       enabled_collectors=list(request.enabled_collectors),
                                       replace_collectors=request.replace_collectors)
        with self._lock:  # the cached configs take it at once
            cached = self._configs.get(tenant)
            if cached is not None:
                self._configs[tenant] = (cached[0], {**cached[1], request.agent_id: config})
        log.info("central agent config v%d set for %s", version, request.agent_id or "every agent")
        return config


def mount(server, context) -> None:
    """grpc_services entry: add the AgentService to the OTLP/gRPC server."""
    agent_pb2_grpc.add_AgentServiceServicer_to_server(AgentService(context), server)
