"""Settings of ``stackeye up``: ingest, the spool, the writer and the query API in one process."""
from __future__ import annotations

import dataclasses
import os

from stackeye.auth.keystore import default_path as default_keys_path
from stackeye.app.tenant_rates import (burst_setting, max_bytes_setting, max_items_setting, rate_limits,
                                       tenant_limits_setting)
from stackeye.app.tls_settings import CLIENT_CA_HELP, INSECURE_HELP, TLS_CERT_HELP, TLS_KEY_HELP, check_tls_settings
from stackeye.collector.writer.writer import WriterConfig
from stackeye.core.config import ConfigError, setting
from stackeye.core.units import DURATION, LISTEN, LISTEN_OR_OFF, SIZE
from stackeye.storage.engine_flatten import MAX_BATCH_BYTES
from stackeye.storage.url import StorageURLError, parse_storage_url
from stackeye.storage.attribute_limits import AttributeLimits
from stackeye.storage.base import QueryLimits


@dataclasses.dataclass(frozen=True)
class UpConfig:
    """Settings of ``stackeye up`` (everything in one process on chDB)."""

    data_dir: str = setting("./stackeye-data", "where the spool and the chDB database live", "DIR")
    clickhouse: str = setting("", "storage URL; default chdb://<data_dir>/clickhouse (or clickhouse://host:9000/db)", "URL")
    otlp_grpc: str = setting("127.0.0.1:4317", "OTLP/gRPC listen address", unit=LISTEN)
    otlp_http: str = setting("127.0.0.1:4318", "OTLP/HTTP listen address ('' or off to turn it off)", unit=LISTEN_OR_OFF)
    http: str = setting("127.0.0.1:8080", "query API, health and /metrics listen address", unit=LISTEN)
    keda_grpc: str = setting("", "KEDA external scaler (gRPC) listen address, e.g. 0.0.0.0:9090; off by default. "
                             "Serves the --policy file's autoscale decisions (docs/keda.md)", unit=LISTEN_OR_OFF)
    keda_recheck_s: float = setting(15.0, "how often KEDA's StreamIsActive (trigger type external-push) re-evaluates "
                                    "its answer", unit=DURATION, positive=True)
    tokens: tuple[str, ...] = setting((), "accepted bearer tokens (TOKEN or TOKEN=TENANT); none = no auth",
                                      "TOKEN[=TENANT]", flag="--token")
    api_keys: tuple[str, ...] = setting((), "accepted API keys besides the key file's (KEY=TENANT, role read, or "
                                        "KEY=TENANT:admin); none and no key file = the API is open on its address",
                                        "KEY=TENANT[:ROLE]", flag="--api-key")
    keys_file: str = setting("", "the key file of tenants, ingest tokens and API keys (stackeye tenants/keys "
                                 "change it, also while this runs); default <data_dir>/stackeye-keys.json", "FILE")
    tls_cert: str = setting("", TLS_CERT_HELP, "PEM")
    tls_key: str = setting("", TLS_KEY_HELP, "PEM")
    client_ca: str = setting("", CLIENT_CA_HELP, "PEM")
    insecure: bool = setting(False, INSECURE_HELP)
    max_request_bytes: int = setting(16 << 20, "largest OTLP request accepted, decompressed", unit=SIZE, positive=True)
    tenant_max_items_per_s: float = max_items_setting()
    tenant_max_bytes_per_s: int = max_bytes_setting()
    tenant_limits: tuple[str, ...] = tenant_limits_setting()
    ingest_burst_s: float = burst_setting()
    max_attributes: int = setting(AttributeLimits.max_attributes, "attributes kept per resource, scope, span, event, "
                                  "link, log record and data point; the ones after are dropped (counted in "
                                  "stackeye_ingest_truncated_total{what=\"count\"})", positive=True)
    max_attribute_key_bytes: int = setting(AttributeLimits.max_key_bytes,
                                           "longer attribute keys are cut to this many bytes (what=\"key\")",
                                           unit=SIZE, positive=True)
    max_attribute_value_bytes: int = setting(AttributeLimits.max_value_bytes, "longer attribute values are cut to this "
                                             "many bytes (what=\"value\"); the rest of the batch is kept",
                                             unit=SIZE, positive=True)
    spool_max_bytes: int = setting(4 << 30, "back-pressure bound of the disk spool", unit=SIZE, positive=True)
    fsync: bool = setting(True, "fsync the spool before acknowledging (turning it off risks data on power loss)")
    batch_max_wait_s: float = setting(WriterConfig.batch_max_wait_s, "longest a request waits before its batch is inserted",
                                      unit=DURATION)
    batch_max_bytes: int = setting(WriterConfig.batch_max_bytes, "request bytes per insert (one insert block at most)",
                                   unit=SIZE, positive=True, maximum=MAX_BATCH_BYTES)
    batch_max_records: int = setting(WriterConfig.batch_max_records, "requests per insert", positive=True)
    retention_days: int = setting(7, "TTL of raw telemetry tables", positive=True)
    query_max_rows: int = setting(100_000, "result row limit for SQL from the API and CLI", positive=True)
    query_timeout_s: int = setting(30, "execution time limit for SQL from the API and CLI, in seconds", positive=True)
    query_max_memory_bytes: int = setting(QueryLimits.max_memory_usage, "memory limit of one query from the API and CLI; "
                                          "GROUP BY/ORDER BY spill to disk from half of it (sized to the machine: a "
                                          "quarter of the RAM, 256 MiB to 8 GiB)", unit=SIZE, positive=True)
    query_max_threads: int = setting(QueryLimits.max_threads, "threads of one query from the API and CLI (sized to "
                                     "the machine: half the cores)", positive=True)
    query_max_concurrent: int = setting(QueryLimits.tenant_concurrency, "queries one tenant's keys run at once; more "
                                        "wait up to query_timeout_s, then are refused (TOO_MANY_SIMULTANEOUS_QUERIES)",
                                        positive=True)
    policy: str = setting("", "decision policy file ([autoscale.<service>], [routing.<upstream>] tables, see "
                              "docs/decisions.md): evaluated every decide_interval, decisions kept in "
                              "stackeye_decisions; PUT /api/v1/policies rewrites it", "FILE")
    decide_interval: float = setting(15.0, "how often the policies of --policy are evaluated", unit=DURATION,
                                     positive=True)
    triggers: str = setting("", "trigger rules file ([[trigger]] and [[notifier]] tables): evaluated every "
                                "trigger_interval, transitions kept in stackeye_events and sent to the notifiers; "
                                "PUT /api/v1/triggers rewrites it", "FILE")
    trigger_interval: float = setting(15.0, "how often the rules of --triggers are evaluated", unit=DURATION,
                                      positive=True)

    def keys_path(self) -> str:
        return self.keys_file or default_keys_path(self.data_dir)

    def attribute_limits(self) -> AttributeLimits:
        return AttributeLimits(self.max_attributes, self.max_attribute_key_bytes, self.max_attribute_value_bytes)

    def storage_url(self) -> str:
        return self.clickhouse or "chdb://" + os.path.abspath(os.path.join(self.data_dir, "clickhouse"))

    def validate(self) -> None:
        rate_limits(self)  # a bad --tenant-limit stops here
        check_tls_settings(self)
        if self.clickhouse:
            try:
                parse_storage_url(self.clickhouse)
            except StorageURLError as exc:
                raise ConfigError("clickhouse", str(exc)) from None
        if self.keda_grpc and not self.policy:
            raise ConfigError("keda_grpc", "KEDA's scaler answers with the autoscale decisions of a policy file: "
                                           "add --policy FILE with an [autoscale.<service>] table per service "
                                           "(docs/keda.md), or turn it off (--keda-grpc off)")
