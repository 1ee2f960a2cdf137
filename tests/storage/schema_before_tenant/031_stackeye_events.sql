-- Events (stackeye.events.store): every transition of a trigger rule's label set (pending, firing,
-- resolved, inactive), the history `stackeye events` and GET /api/v1/events read, and the state a
-- restart resumes from (the latest row per Rule and Fingerprint). Notify = 1: the event is sent to
-- the notifiers (firing and resolved outside a silence).
CREATE TABLE IF NOT EXISTS stackeye_events $on_cluster (
    Id String,
    Rule LowCardinality(String),
    Fingerprint String,
    State LowCardinality(String),
    Time DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    Since DateTime64(3, 'UTC'),
    Value Float64,
    Severity LowCardinality(String),
    Labels String CODEC(ZSTD(1)),
    Message String CODEC(ZSTD(1)),
    Notify UInt8
) ENGINE = $engine
PARTITION BY toYYYYMM(Time)
ORDER BY (Rule, Fingerprint, Time)
TTL toDateTime(Time) + toIntervalDay($ttl_days * 5)
SETTINGS index_granularity = 8192$table_settings;

-- Every delivery attempt of an event to a notifier and its outcome (delivered, failed): what
-- `stackeye events` shows beside an event, and the outbox: an event with Notify = 1 and no
-- 'delivered' row for a notifier is sent again, also after a restart.
CREATE TABLE IF NOT EXISTS stackeye_event_deliveries $on_cluster (
    EventId String,
    Rule LowCardinality(String),
    Notifier LowCardinality(String),
    Time DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    Attempts UInt32,
    Outcome LowCardinality(String),
    Error String CODEC(ZSTD(1))
) ENGINE = $engine
PARTITION BY toYYYYMM(Time)
ORDER BY (Notifier, EventId, Time)
TTL toDateTime(Time) + toIntervalDay($ttl_days * 5)
SETTINGS index_granularity = 8192$table_settings;
