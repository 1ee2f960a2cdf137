"""The one storage URL every command takes (``--clickhouse``).

- ``chdb:///abs/path`` or ``chdb://./rel/path``: embedded chDB data directory.
- ``clickhouse://user:pass@host:9000/db`` (``clickhouses://`` for TLS): a ClickHouse server,
  native protocol.
"""
from __future__ import annotations

import dataclasses
import os
import urllib.parse


class StorageURLError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class StorageURL:
    scheme: str  # "chdb" or "clickhouse"
    path: str = ""  # chdb data directory
    host: str = ""
    port: int = 9000
    database: str = "default"
    user: str = "default"
    password: str = ""
    secure: bool = False
    params: tuple[tuple[str, str], ...] = ()

    @property
    def embedded(self) -> bool:
        return self.scheme == "chdb"

    def redacted(self) -> str:
        if self.embedded:
            return f"chdb://{self.path}" + (f"?database={self.database}" if self.database != "default" else "")
        scheme = "clickhouses" if self.secure else "clickhouse"
        auth = f"{self.user}:***@" if self.password else (f"{self.user}@" if self.user != "default" else "")
        return f"{scheme}://{auth}{self.host}:{self.port}/{self.database}"


EXAMPLES = "chdb:///var/lib/stackeye/clickhouse or clickhouse://user:password@host:9000/otel"


def parse_storage_url(url: str) -> StorageURL:
    if not url:
        raise StorageURLError(f"empty storage URL: expected {EXAMPLES}")
    parts = urllib.parse.urlsplit(url)
    params = tuple(urllib.parse.parse_qsl(parts.query))
    opts = dict(params)
    if parts.scheme == "chdb":
        path = (parts.netloc + parts.path) if parts.netloc in (".", "..") else parts.path
        if parts.netloc not in ("", ".", ".."):
            raise StorageURLError(
                f"bad chdb URL {url!r}: use chdb:///absolute/path (three slashes) or chdb://./relative/path"
            )
        if not path:
            raise StorageURLError(f"bad chdb URL {url!r}: no data directory; e.g. chdb:///var/lib/stackeye/clickhouse")
        return StorageURL("chdb", path=os.path.abspath(path), database=opts.get("database", "default"), params=params)
    if parts.scheme in ("clickhouse", "clickhouses"):
        if not parts.hostname:
            raise StorageURLError(f"bad ClickHouse URL {url!r}: no host; e.g. clickhouse://user:pass@ch1:9000/otel")
        try:
            port = parts.port or (9440 if parts.scheme == "clickhouses" else 9000)
        except ValueError:
            raise StorageURLError(f"bad ClickHouse URL {url!r}: the port is not a number") from None
        database = parts.path.strip("/") or "default"
        if "/" in database:
            raise StorageURLError(f"bad ClickHouse URL {url!r}: the path must be a single database name")
        return StorageURL(
            "clickhouse",
            host=parts.hostname,
            port=port,
            database=database,
            user=urllib.parse.unquote(parts.username or "default"),
            password=urllib.parse.unquote(parts.password or ""),
            secure=parts.scheme == "clickhouses" or opts.get("secure") in ("1", "true"),
            params=params,
        )
    raise StorageURLError(f"unsupported storage URL {url!r}: expected {EXAMPLES}")
