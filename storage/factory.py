"""Open the storage a URL names: chDB for ``chdb://``, a ClickHouse server for ``clickhouse://``."""
from __future__ import annotations

from stackeye.storage.attribute_limits import AttributeLimits
from stackeye.storage.base import QueryLimits, Storage
from stackeye.storage.migrations import SchemaOptions
from stackeye.storage.url import StorageURL, parse_storage_url


def open_storage(url: str | StorageURL, schema: SchemaOptions | None = None,
                 limits: QueryLimits | None = None, attributes: AttributeLimits | None = None) -> Storage:
    """``attributes``: the attribute limits of inserts (default :class:`AttributeLimits`)."""
    parsed = parse_storage_url(url) if isinstance(url, str) else url
    if parsed.embedded:
        from stackeye.storage.chdb_storage import ChdbStorage

        return ChdbStorage(parsed, schema, limits, attributes)
    from stackeye.storage.native_storage import NativeStorage  # cluster mode

    return NativeStorage(parsed, schema, limits, attributes)
