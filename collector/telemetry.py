"""Self-telemetry: the pipeline's own counters, served as Prometheus text at ``GET /metrics``.

One :class:`PipelineMetrics` per process; every stage gets it and counts what it does.
"""
from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


class PipelineMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received_requests = Counter("stackeye_received_requests", "OTLP requests accepted", ["signal", "transport"], registry=r)
        self.received_items = Counter("stackeye_received_items", "Spans, data points or log records accepted", ["signal"], registry=r)
        self.received_bytes = Counter("stackeye_received_bytes", "Request bytes accepted (uncompressed)", ["signal"], registry=r)
        self.rejected_requests = Counter("stackeye_rejected_requests", "OTLP requests refused, by reason", ["signal", "reason"], registry=r)
        self.refused_agent_requests = Counter("stackeye_agent_refused_requests", "Agent protocol (stackeye.agent.v1) requests refused, by RPC and reason", ["rpc", "reason"], registry=r)
        self.rate_limited_items = Counter("stackeye_rate_limited_items", "Items refused because their tenant was over its ingest rate (tenant_max_items_per_s, --tenant-limit)", ["tenant", "signal"], registry=r)
        self.truncated_attributes = Counter("stackeye_ingest_truncated", "Attribute values and keys cut to their length limit, attributes dropped over the count limit (what=value|key|count)", ["signal", "what"], registry=r)
        self.duplicate_requests = Counter("stackeye_duplicate_requests", "Retried requests already queued (same stackeye-batch-id), acknowledged without storing again", ["signal"], registry=r)
        self.queued_bytes = Gauge("stackeye_queue_bytes", "Bytes in the durable queue waiting for the writer", registry=r)
        self.written_rows = Counter("stackeye_written_items", "Items inserted into ClickHouse", ["signal"], registry=r)
        self.written_batches = Counter("stackeye_written_batches", "Batches inserted into ClickHouse", registry=r)
        self.insert_errors = Counter("stackeye_insert_errors", "Failed insert attempts (retried)", ["retryable"], registry=r)
        self.dead_letters = Counter("stackeye_dead_letter_records", "Records the storage refused for good", ["signal"], registry=r)
        self.insert_seconds = Histogram(
            "stackeye_insert_seconds", "Insert latency per batch", registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.batch_items = Histogram(
            "stackeye_batch_items", "Items per inserted batch", registry=r,
            buckets=(1, 10, 100, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000),
        )

    def prometheus_text(self) -> bytes:
        return generate_latest(self.registry)

    def total(self, counter) -> float:
        """Sum of a counter over all its labels (for the health summary)."""
        return sum(s.value for m in counter.collect() for s in m.samples if s.name.endswith("_total"))
