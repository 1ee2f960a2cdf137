-- Audit (stackeye.auth.audit): who changed tenants and keys, and who used the keys API. One row per
-- action: At (when), Tenant (whose), Actor (cli:<user>@<host>, key:<id>, flag:<id>, anonymous),
-- Action (tenant.create, key.create, key.revoke, key.list), Target (the tenant or key id), Detail
-- (JSON: role, label). Key-file events are copied in by AuditLog.sync_keystore with the time and
-- actor the file records; kept far longer than telemetry (a year and more, for reviews).
CREATE TABLE IF NOT EXISTS stackeye_audit $on_cluster (
    At DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    Tenant LowCardinality(String),
    Actor String,
    Action LowCardinality(String),
    Target String,
    Detail String CODEC(ZSTD(1))
) ENGINE = $engine
PARTITION BY toYYYYMM(At)
ORDER BY (Tenant, At)
TTL toDateTime(At) + toIntervalDay(400)
SETTINGS index_granularity = 8192$table_settings;
