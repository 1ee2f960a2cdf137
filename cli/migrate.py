"""``stackeye migrate``: create or upgrade the schema (also done by ``stackeye up`` at start)."""
from __future__ import annotations

import os

HELP = "apply schema migrations to a ClickHouse database (idempotent)"
EPILOG = """examples:
  stackeye migrate                                          # ./stackeye-data/clickhouse (chDB)
  stackeye migrate --clickhouse chdb:///var/lib/stackeye/clickhouse --retention-days 30
  stackeye migrate --clickhouse clickhouse://admin:pw@ch1:9000/otel
  stackeye migrate --clickhouse clickhouse://admin:pw@ch1:9000/otel --cluster otel3   # see docs/cluster.md
"""


def configure(parser) -> None:
    parser.add_argument("--clickhouse", metavar="URL", default=os.environ.get("STACKEYE_CLICKHOUSE"),
                        help="storage URL (default: chdb://./stackeye-data/clickhouse)")
    parser.add_argument("--data-dir", default=os.environ.get("STACKEYE_DATA_DIR", "./stackeye-data"),
                        help="used for the default storage URL")
    parser.add_argument("--retention-days", type=int, default=7, help="TTL of raw telemetry (default: 7)")
    parser.add_argument("--cluster", metavar="NAME", default="",
                        help="ClickHouse cluster: ON CLUSTER DDL, Replicated <table>_local tables, Distributed <table>")


def run(args) -> int:
    from stackeye.cli.errors import UsageError
    from stackeye.core.errors import Fatal
    from stackeye.storage.base import StorageError
    from stackeye.storage.factory import open_storage
    from stackeye.storage.migrations import SchemaOptions
    from stackeye.storage.url import StorageURLError

    url = args.clickhouse or "chdb://" + os.path.abspath(os.path.join(args.data_dir, "clickhouse"))
    try:
        storage = open_storage(url, SchemaOptions(ttl_days=args.retention_days, cluster=args.cluster))
    except StorageURLError as exc:
        raise UsageError(str(exc)) from None
    except StorageError as exc:
        if not exc.retryable:  # a refused password, too old a server: exit 2 with the fix
            raise Fatal(str(exc)) from None
        print(f"stackeye migrate: {exc}")
        return 1
    try:
        applied = storage.migrate()
    finally:
        storage.close()
    print("\n".join(f"applied {name}" for name in applied) if applied else "schema is up to date")
    return 0
