"""The storage interface: what the writer and the query layer need from ClickHouse.

Two backends implement it: :mod:`.chdb_storage` (embedded, in-process) and, for cluster mode, a
ClickHouse server over the native protocol. Both run the same DDL (:mod:`.migrations`) and the
same SQL.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Protocol, Sequence

import psutil
from stackeye.core.signals import Signal


class StorageError(Exception):
    """An insert or query failed. ``retryable`` says whether trying again may succeed."""

    def __init__(self, message: str, *, retryable: bool = True, code: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.code = code


# TOO_MANY_PARTS (252) is worth retrying while merges catch up, but an insert that spans more
# partitions (days) than max_partitions_per_insert_block fails the same way on every try.
_TOO_MANY_PARTITIONS = "Too many partitions for single INSERT block"


def may_recover(code: int | None, message: str, retryable_codes) -> bool:
    """Whether a ClickHouse error with ``code`` is worth retrying (``retryable_codes``: the backend's)."""
    return code in retryable_codes and _TOO_MANY_PARTITIONS not in message


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


MiB, GiB = 1 << 20, 1 << 30


def default_memory_bytes(total_ram: int | None = None) -> int:
    """The default memory limit of one query: a quarter of the machine's RAM, at least 256 MiB,
    at most 8 GiB.

    Why a quarter: the queries of a storage run one at a time (one read connection), in the same
    process as ingest, whose spool, insert blocks and chDB's background merges need memory too, as
    does the page cache every read goes through; a quarter leaves them the rest. The floor: below
    256 MiB ordinary views over a day of data fail. The cap: a query that needs more than 8 GiB is
    rarely meant (it usually lacks a time range or a LIMIT), and whoever means it raises the limit.
    GROUP BY and ORDER BY spill to disk from half the limit on, so a big aggregation still finishes.
    """
    total = psutil.virtual_memory().total if total_ram is None else total_ram
    return int(min(max(total // 4, 256 * MiB), 8 * GiB))


def default_threads(cores: int | None = None) -> int:
    """The default thread cap of one query: half the cores (at least one), the other half for ingest
    (gRPC decoding, fsyncs, inserts) so that it keeps acknowledging while a big query runs."""
    n = (psutil.cpu_count() or 1) if cores is None else cores
    return max(1, n // 2)


# ClickHouse error codes of the limits below: which limit a query went over.
LIMIT_OF_CODE = {
    241: "max_memory_usage",  # MEMORY_LIMIT_EXCEEDED
    159: "max_execution_time",  # TIMEOUT_EXCEEDED
    160: "max_execution_time",  # TOO_SLOW (estimated to run longer than the limit)
    396: "max_result_rows",  # TOO_MANY_ROWS_OR_BYTES
}
_WHAT = {
    "max_memory_usage": "the query needs more than {} bytes of memory",
    "max_execution_time": "the query runs longer than {} s",
    "max_result_rows": "the result has more than {} rows",
}


class QueryLimitExceeded(QueryError):
    """A query went over one of its :class:`QueryLimits`: ``limit`` names it (the ClickHouse setting),
    ``value`` is its value; the message says how to raise it."""

    def __init__(self, message: str, code: int, limit: str, value: int):
        super().__init__(message, code=code)
        self.limit = limit
        self.value = value


@dataclasses.dataclass(frozen=True)
class QueryLimits:
    """Limits of every query that is not the writer's (ClickHouse settings of the same names).

    ``raised_by`` says, per limit, the setting that changes it (e.g. ``("max_memory_usage",
    "query_max_memory_bytes / --query-max-memory-bytes")``): errors name it (else the ClickHouse
    setting's own name).
    """

    max_result_rows: int = 100_000
    max_execution_time: int = 30  # seconds
    max_memory_usage: int = default_memory_bytes()  # bytes, per query
    max_threads: int = default_threads()
    # queries one tenant runs at once (each within the limits above); more wait up to
    # max_execution_time for a turn, then are refused (TOO_MANY_SIMULTANEOUS_QUERIES)
    tenant_concurrency: int = 2
    raised_by: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        for name in ("max_result_rows", "max_execution_time", "max_memory_usage", "max_threads", "tenant_concurrency"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"query limit {name} must be a positive integer, got {value!r} "
                                 "(0 would mean unlimited in ClickHouse)")

    @property
    def spill_bytes(self) -> int:
        """GROUP BY and ORDER BY write to disk from this much memory on: half the memory limit."""
        return self.max_memory_usage // 2

    def settings(self) -> dict[str, int | str]:
        """The ClickHouse settings that apply these limits."""
        return {
            "max_result_rows": int(self.max_result_rows),
            "result_overflow_mode": "throw",
            "max_execution_time": int(self.max_execution_time),
            "max_memory_usage": int(self.max_memory_usage),
            "max_bytes_before_external_group_by": self.spill_bytes,
            "max_bytes_before_external_sort": self.spill_bytes,
            "max_threads": int(self.max_threads),
        }

    def error(self, message: str, code: int | None) -> QueryError:
        """The error of a failed query: :class:`QueryLimitExceeded` naming the limit and the setting
        that raises it when ClickHouse refused it for one of these limits, else a plain QueryError."""
        limit = LIMIT_OF_CODE.get(code)
        if limit is None or (code == 241 and "total" in message.lower()):  # the server's memory, not ours
            return QueryError(message, code=code)
        value = getattr(self, limit)
        knob = dict(self.raised_by).get(limit, limit)
        fix = "add a LIMIT or aggregate, or raise the limit" if limit == "max_result_rows" else \
            "narrow the query (a shorter time range, fewer groups, a LIMIT) or raise the limit"
        return QueryLimitExceeded(f"{_WHAT[limit].format(value)} ({knob}); {fix}. ClickHouse: {message}",
                                  code, limit, value)


class Storage(Protocol):
    def migrate(self) -> list[str]:
        """Apply pending schema migrations; return the names applied."""

    def insert_otlp(self, signal: Signal, payloads: Sequence[bytes], token: str,
                    tenant: str = "default") -> Mapping[str, int] | None:
        """Insert serialized Export*ServiceRequest messages of one signal, flattened to the otel_* tables.

        Returns what was cut to the attribute limits (``value``/``key``/``count`` → how many; see
        :mod:`stackeye.storage.attribute_limits`), empty or None when nothing was.

        ``token`` identifies the batch: inserting the same batch with the same token again writes
        nothing twice (ClickHouse insert deduplication). Every row gets ``tenant`` in its Tenant
        column: one insert carries one tenant's requests.
        """

    def query(self, sql: str, *, readonly: bool = True, limits: QueryLimits | None = None,
              tenant: str | None = None, untrusted: bool = False) -> QueryResult:
        """Run SQL; read-only and limited unless told otherwise. With ``tenant`` it sees only that
        tenant's rows (:mod:`.tenant_filters`); a tenant's SQL and ``untrusted`` SQL (as a user wrote
        it: the SQL endpoints) is judged by :mod:`.query_guard` before it runs."""

    def close(self) -> None: ...
