-- Every row belongs to a tenant: the tenant of the ingest token its request came with (raw telemetry),
-- or of the process that wrote it (decisions, events, issues). Tables created before it get the
-- column (001-032 create it since); the rows they hold read 'default', the embedded default tenant.
-- Adding a column writes nothing: parts written before it compute the default when read.
-- A tenant's queries filter on it (additional_table_filters); it leads no sorting key, since a
-- tenant's reads are by service and time like everyone's.
-- No skip index on it: bench/tenant_index.py (1M spans, 20 tenants) shows a set(0) index skipping
-- 94% of the granules of one tenant's reads yet not making them faster, and inserts 30-40% slower.

ALTER TABLE otel_traces $on_cluster ADD COLUMN IF NOT EXISTS Tenant LowCardinality(String) DEFAULT 'default' CODEC(ZSTD(1));
ALTER TABLE otel_traces_trace_id_ts $on_cluster ADD COLUMN IF NOT EXISTS Tenant LowCardinality(String) DEFAULT 'default' CODEC(ZSTD(1));
ALTER TABLE otel_logs $on_cluster ADD COLUMN IF NOT EXISTS Tenant LowCardinality(String) DEFAULT 'default' CODEC(ZSTD(1));
ALTER TABLE otel_metrics_gauge $on_cluster ADD COLUMN IF NOT EXISTS Tenant LowCardinality(String) DEFAULT 'default' CODEC(ZSTD(1));
ALTER TABLE otel_metrics_sum $on_cluster ADD COLUMN IF NOT EXISTS Tenant LowCardinality(String) DEFAULT 'default' CODEC(ZSTD(1));
ALTER TABLE otel_metrics_histogram $on_cluster ADD COLUMN IF NOT EXISTS Tenant LowCardinality(String) DEFAULT 'default' CODEC(ZSTD(1));
ALTER TABLE otel_metrics_exponential_histogram $on_cluster ADD COLUMN IF NOT EXISTS Tenant LowCardinality(String) DEFAULT 'default' CODEC(ZSTD(1));
ALTER TABLE otel_metrics_summary $on_cluster ADD COLUMN IF NOT EXISTS Tenant LowCardinality(String) DEFAULT 'default' CODEC(ZSTD(1));
ALTER TABLE stackeye_decisions $on_cluster ADD COLUMN IF NOT EXISTS Tenant LowCardinality(String) DEFAULT 'default' CODEC(ZSTD(1));
ALTER TABLE stackeye_events $on_cluster ADD COLUMN IF NOT EXISTS Tenant LowCardinality(String) DEFAULT 'default' CODEC(ZSTD(1));
ALTER TABLE stackeye_event_deliveries $on_cluster ADD COLUMN IF NOT EXISTS Tenant LowCardinality(String) DEFAULT 'default' CODEC(ZSTD(1));
ALTER TABLE stackeye_issues $on_cluster ADD COLUMN IF NOT EXISTS Tenant LowCardinality(String) DEFAULT 'default' CODEC(ZSTD(1));

-- Trace id -> time range per tenant: the view is created again to carry the tenant.
DROP VIEW IF EXISTS otel_traces_trace_id_ts_mv $on_cluster;
CREATE MATERIALIZED VIEW IF NOT EXISTS otel_traces_trace_id_ts_mv $on_cluster
TO otel_traces_trace_id_ts
AS SELECT
    TraceId,
    min(Timestamp) AS Start,
    max(Timestamp) AS End,
    Tenant
FROM otel_traces
WHERE TraceId != ''
GROUP BY TraceId, Tenant;
