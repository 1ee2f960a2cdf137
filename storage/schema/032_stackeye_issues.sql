-- Issues (stackeye.events.issue_store): one row per version of an error group's issue (its status,
-- counts, first/last seen, newest sample trace); the latest row per Fingerprint (by UpdatedAt) is
-- the issue. SyncedTo: the end of the errors window the sync had read when it wrote the row, where
-- a restarted sync resumes so no error is counted twice.
CREATE TABLE IF NOT EXISTS stackeye_issues $on_cluster (
    Fingerprint String,
    Status LowCardinality(String),
    ExceptionType String,
    Message String CODEC(ZSTD(1)),
    Count UInt64,
    FirstSeen DateTime64(3, 'UTC'),
    LastSeen DateTime64(3, 'UTC'),
    SampleTraceId String,
    Services Array(String),
    Routes Array(String),
    ResolvedAt Nullable(DateTime64(3, 'UTC')),
    Regressions UInt32,
    UpdatedAt DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    SyncedTo DateTime64(3, 'UTC'),
    Tenant LowCardinality(String) DEFAULT 'default' CODEC(ZSTD(1))
) ENGINE = $engine
PARTITION BY toYYYYMM(UpdatedAt)
ORDER BY (Fingerprint, UpdatedAt)
TTL toDateTime(UpdatedAt) + toIntervalDay($ttl_days * 5)
SETTINGS index_granularity = 8192$table_settings;
