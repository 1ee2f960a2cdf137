"""The storage interface: what the writer and the query layer need from ClickHouse.

Two backends implement it: :mod:`.chdb_storage` (embedded, in-process) and, for cluster mode, a
ClickHouse server over the native protocol. Both run the same DDL (:mod:`.migrations`) and the
same SQL.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Protocol, Sequence

from stackeye.core.signals import Signal


class StorageError(Exception):
    """An insert or query failed. ``retryable`` says whether trying again may succeed."""

    def __init__(self, message: str, *, retryable: bool = True, code: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.code = code


class QueryError(StorageError):
    """A query was refused by ClickHouse (bad SQL, read-only, limits). Not retryable."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message, retryable=False, code=code)


@dataclasses.dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    elapsed_ms: float


@dataclasses.dataclass(frozen=True)
class QueryLimits:
    """Limits applied to user SQL (ClickHouse settings of the same names)."""

    max_result_rows: int = 100_000
    max_execution_time: int = 30  # seconds


class Storage(Protocol):
    def migrate(self) -> list[str]:
        """Apply pending schema migrations; return the names applied."""

    def insert_otlp(self, signal: Signal, payloads: Sequence[bytes], token: str) -> None:
        """Insert serialized Export*ServiceRequest messages of one signal, flattened to the otel_* tables.

        ``token`` identifies the batch: inserting the same batch with the same token again writes
        nothing twice (ClickHouse insert deduplication).
        """

    def query(self, sql: str, *, readonly: bool = True, limits: QueryLimits | None = None) -> QueryResult:
        """Run SQL; read-only and limited unless told otherwise."""

    def close(self) -> None: ...
