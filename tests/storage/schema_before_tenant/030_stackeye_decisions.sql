-- Decisions (stackeye.decisions.store): every decision an evaluation stored, and the policy's state
-- after it, so that a restart continues its stabilization windows, ejections and breakers, and
-- `--at TIME` replays history. One evaluation of one key writes one row per subject (a service, a
-- server; Decision = its JSON) and one row with Subject '' (State = the policy state after it).
CREATE TABLE IF NOT EXISTS stackeye_decisions $on_cluster (
    Kind LowCardinality(String),
    Key String,
    Subject String,
    Time DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    Changed UInt8,
    Reason String CODEC(ZSTD(1)),
    Decision String CODEC(ZSTD(1)),
    State String CODEC(ZSTD(1))
) ENGINE = $engine
PARTITION BY toYYYYMM(Time)
ORDER BY (Kind, Key, Time, Subject)
TTL toDateTime(Time) + toIntervalDay($ttl_days * 5)
SETTINGS index_granularity = 8192$table_settings;
