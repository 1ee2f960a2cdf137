"""Settings of ``stackeye collector``: OTLP in, Kafka out (cluster mode)."""
from __future__ import annotations

import dataclasses

from stackeye.app.kafka_settings import KafkaSettings
from stackeye.app.tenant_rates import (burst_setting, max_bytes_setting, max_items_setting, rate_limits,
                                       tenant_limits_setting)
from stackeye.app.tls_settings import CLIENT_CA_HELP, INSECURE_HELP, TLS_CERT_HELP, TLS_KEY_HELP, check_tls_settings
from stackeye.core.config import setting
from stackeye.core.units import DURATION, LISTEN, LISTEN_OR_OFF, SIZE


@dataclasses.dataclass(frozen=True)
class KafkaCollectorConfig(KafkaSettings):
    """Settings of ``stackeye collector`` (the Kafka ones come from :class:`KafkaSettings`)."""

    otlp_grpc: str = setting("127.0.0.1:4317", "OTLP/gRPC listen address", unit=LISTEN)
    otlp_http: str = setting("", "OTLP/HTTP listen address ('' or off: not served)", unit=LISTEN_OR_OFF)
    tokens: tuple[str, ...] = setting((), "require this bearer token (TOKEN or TOKEN=TENANT; the tenant goes into the "
                                          "record headers); none = no auth", "TOKEN[=TENANT]", flag="--token")
    keys_file: str = setting("", "the key file of `stackeye up` (or one shared with it) whose ingest tokens are "
                                 "accepted too, revocations within a second; none by default", "FILE")
    tls_cert: str = setting("", TLS_CERT_HELP, "PEM")
    tls_key: str = setting("", TLS_KEY_HELP, "PEM")
    client_ca: str = setting("", CLIENT_CA_HELP, "PEM")
    insecure: bool = setting(False, INSECURE_HELP)
    max_request_bytes: int = setting(16 << 20, "largest OTLP request accepted, decompressed", unit=SIZE, positive=True)
    tenant_max_items_per_s: float = max_items_setting()
    tenant_max_bytes_per_s: int = max_bytes_setting()
    tenant_limits: tuple[str, ...] = tenant_limits_setting()
    ingest_burst_s: float = burst_setting()
    produce_timeout: float = setting(10.0, "wait this long for Kafka's acknowledgement before answering UNAVAILABLE",
                                     unit=DURATION, positive=True)

    def validate(self) -> None:
        super().validate()
        rate_limits(self)  # a bad --tenant-limit stops here
        check_tls_settings(self)
