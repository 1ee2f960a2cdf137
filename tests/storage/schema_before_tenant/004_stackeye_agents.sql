-- Host agents known to the collector (stackeye.agent.v1 Register and Heartbeat): one row per
-- heartbeat, the latest (by LastHeartbeat) wins. Read with FINAL, or argMax(..., LastHeartbeat).
CREATE TABLE IF NOT EXISTS stackeye_agents $on_cluster (
    Tenant LowCardinality(String),
    AgentId String,
    HostName String,
    HostId String,
    OsType LowCardinality(String),
    Version LowCardinality(String),
    Collectors Array(String),
    Labels Map(String, String),
    Stats Map(String, Float64),
    ConfigVersion Int64,
    RegisteredAt DateTime64(3),
    LastHeartbeat DateTime64(3)
) ENGINE = Replacing$engine(LastHeartbeat)
ORDER BY (Tenant, AgentId)
SETTINGS index_granularity = 8192$table_settings;

-- Central agent config set by operators (SetConfig); AgentId '' is the default for every agent
-- without a row of its own. The highest Version wins.
CREATE TABLE IF NOT EXISTS stackeye_agent_config $on_cluster (
    Tenant LowCardinality(String),
    AgentId String,
    Version Int64,
    IntervalSeconds Float64,
    EnabledCollectors Array(String),
    ReplaceCollectors Bool,
    UpdatedAt DateTime64(3)
) ENGINE = Replacing$engine(Version)
ORDER BY (Tenant, AgentId)
SETTINGS index_granularity = 8192$table_settings;
