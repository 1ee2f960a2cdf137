"""The Python packages a command needs, checked before it starts: a missing one is an error that
names the install command (exit 2), never a traceback repeated by a retry loop."""
from __future__ import annotations

from stackeye.core.errors import CLUSTER_INSTALL, REINSTALL, require_module


def require_kafka_client() -> None:
    require_module("kafka", "kafka-python", CLUSTER_INSTALL)


def require_storage_client(url) -> None:
    """The client library of a parsed storage URL: chDB (part of stackeye) or clickhouse-driver."""
    if url.embedded:
        require_module("chdb", "chdb", REINSTALL)
    else:
        require_module("clickhouse_driver", "clickhouse-driver", CLUSTER_INSTALL)
