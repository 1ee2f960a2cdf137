"""Settings of ``stackeye up``: ingest, the spool, the writer and the query API in one process."""
from __future__ import annotations

import dataclasses
import os

from stackeye.collector.writer.writer import WriterConfig
from stackeye.core.config import ConfigError, check_address, setting
from stackeye.storage.base import QueryLimits


@dataclasses.dataclass(frozen=True)
class UpConfig:
    """Settings of ``stackeye up`` (everything in one process on chDB)."""

    data_dir: str = setting("./stackeye-data", "where the spool and the chDB database live")
    clickhouse: str = setting("", "storage URL; default chdb://<data_dir>/clickhouse (or clickhouse://host:9000/db)", "URL")
    otlp_grpc: str = setting("127.0.0.1:4317", "OTLP/gRPC listen address", "HOST:PORT")
    otlp_http: str = setting("127.0.0.1:4318", "OTLP/HTTP listen address ('' to turn off)", "HOST:PORT")
    http: str = setting("127.0.0.1:8080", "query API, health and /metrics listen address", "HOST:PORT")
    tokens: tuple = setting((), "accepted bearer tokens (TOKEN or TOKEN=TENANT); none = no auth")
    max_request_bytes: int = setting(16 << 20, "largest OTLP request accepted, decompressed")
    spool_max_bytes: int = setting(4 << 30, "back-pressure bound of the disk spool")
    fsync: bool = setting(True, "fsync the spool before acknowledging (turning it off risks data on power loss)")
    batch_max_wait_s: float = setting(WriterConfig.batch_max_wait_s, "longest a request waits before its batch is inserted")
    batch_max_bytes: int = setting(WriterConfig.batch_max_bytes, "request bytes per insert (at most 64 MiB)")
    batch_max_records: int = setting(WriterConfig.batch_max_records, "requests per insert")
    retention_days: int = setting(7, "TTL of raw telemetry tables")
    query_max_rows: int = setting(100_000, "result row limit for SQL from the API and CLI")
    query_timeout_s: int = setting(30, "execution time limit for SQL from the API and CLI")
    query_max_memory_bytes: int = setting(QueryLimits.max_memory_usage, "memory limit of one query from the API and CLI; "
                                          "GROUP BY/ORDER BY spill to disk from half of it (sized to the machine: a "
                                          "quarter of the RAM, 256 MiB to 8 GiB)")
    query_max_threads: int = setting(QueryLimits.max_threads, "threads of one query from the API and CLI (sized to "
                                     "the machine: half the cores)")

    def storage_url(self) -> str:
        return self.clickhouse or "chdb://" + os.path.abspath(os.path.join(self.data_dir, "clickhouse"))

    def validate(self) -> None:
        for name in ("max_request_bytes", "spool_max_bytes", "batch_max_bytes", "batch_max_records",
                     "retention_days", "query_max_rows", "query_timeout_s", "query_max_memory_bytes",
                     "query_max_threads"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.batch_max_bytes > 64 << 20:
            raise ConfigError(f"batch_max_bytes must be at most {64 << 20} (one insert block), got {self.batch_max_bytes}")
        if self.batch_max_wait_s < 0:
            raise ConfigError(f"batch_max_wait_s must be >= 0, got {self.batch_max_wait_s}")
        for name in ("otlp_grpc", "http") + (("otlp_http",) if self.otlp_http else ()):
            check_address(name, getattr(self, name))
