"""Embedded storage: chDB (ClickHouse's engine in-process) on a local data directory.

One process owns a data directory (chDB holds a file lock); everything else queries through that
process's HTTP API. Inside the process there are two connections: one for the writer's inserts and
one, read-only and limited, for queries, so a long insert never blocks a dashboard.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import re
import threading
import time
from typing import Sequence

from stackeye.core.signals import Signal
from stackeye.storage import engine_flatten, statements
from stackeye.storage.base import QueryError, QueryLimits, QueryResult, StorageError
from stackeye.storage.complex_values import normalize
from stackeye.storage.migrations import (
    MIGRATIONS_TABLE,
    SchemaOptions,
    apply_migrations,
)
from stackeye.storage.otlp_schema import write_schema
from stackeye.storage.url import StorageURL

log = logging.getLogger("stackeye.storage")
MULTI_STATEMENTS = 62  # ClickHouse's SYNTAX_ERROR, which its server answers to a multi-statement query

_CODE = re.compile(r"Code: (\d+)\.")
# ClickHouse error codes worth retrying: resources that may free up, not bad data.
_RETRYABLE = {159, 160, 202, 241, 243, 252, 439}
_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _error_code(message: str) -> int | None:
    m = _CODE.search(message)
    return int(m.group(1)) if m else None


def _clean(message: str) -> str:
    """ClickHouse's text without the duplicated 'Code: …' wrappers chDB adds."""
    return message.strip().split("\n")[0]


class ChdbStorage:
    """Storage on a chDB data directory (``chdb:///path``)."""

    def __init__(self, url: StorageURL, schema: SchemaOptions | None = None, limits: QueryLimits | None = None):
        import chdb  # imported here so cluster-only processes never load the engine

        if not _DB_NAME.match(url.database):
            raise StorageError(f"bad database name {url.database!r}: letters, digits and _ only", retryable=False)
        self.url = url
        self.schema = schema or SchemaOptions()
        self.limits = limits or QueryLimits()
        os.makedirs(url.path, exist_ok=True)
        self._tmp = os.path.join(url.path, "stackeye-tmp")
        os.makedirs(self._tmp, exist_ok=True)
        self._schema_path = write_schema(os.path.join(url.path, "stackeye-format-schemas"))
        try:
            self._wconn = chdb.connect(url.path)
        except Exception as exc:  # chDB says only "Error initializing EmbeddedServer"
            raise StorageError(
                f"cannot open the chDB data directory {url.path}: {exc}. Only one process can own it: if "
                "`stackeye up` is running there, query it over HTTP (`stackeye sql --url http://127.0.0.1:8080 …`)",
                retryable=False,
            ) from None
        self._connect = chdb.connect
        self._rconn = None
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()
        self._seq = itertools.count()
        self._exec(self._wconn, f"CREATE DATABASE IF NOT EXISTS {url.database}")
        self._exec(self._wconn, f"USE {url.database}")
        self._rconn = self._reader()

    def _reader(self):
        """A read-only connection for user SQL and the views, with the query limits (rows, time,
        memory with spilling to disk, threads) as session settings."""
        conn = self._connect(self.url.path)
        limits = [f"SET {name} = '{value}'" if isinstance(value, str) else f"SET {name} = {int(value)}"
                  for name, value in self.limits.settings().items()]
        for stmt in (
            f"USE {self.url.database}",
            "SET output_format_json_quote_64bit_integers = 0",
            "SET output_format_json_quote_64bit_floats = 0",
            *limits,
            "SET readonly = 1",  # last: from here on it can neither write nor change settings
        ):
            self._exec(conn, stmt)
        return conn

    # -- plumbing ------------------------------------------------------------------------------
    @staticmethod
    def _exec(conn, sql: str, fmt: str = "CSV"):
        # conn.query, not a DB-API cursor: chDB's cursor changes the session's JSON output settings
        if conn is None:
            raise StorageError("the storage is closed (shutting down)", retryable=True)
        try:
            return conn.query(sql, fmt)
        except Exception as exc:
            msg = _clean(str(exc))
            raise StorageError(msg, retryable=_error_code(msg) in _RETRYABLE, code=_error_code(msg)) from None

    def execute(self, sql: str) -> None:
        """Run one statement on the write connection (DDL, maintenance)."""
        with self._wlock:
            self._exec(self._wconn, sql)

    # -- Storage -------------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        def applied():
            with self._wlock:
                out = self._exec(self._wconn, f"SELECT version FROM {MIGRATIONS_TABLE}").bytes()
                return [int(line) for line in out.split()]

        return apply_migrations(self.execute, applied, self.schema, progress=log.info)

    def insert_otlp(self, signal: Signal, payloads: Sequence[bytes], token: str, tenant: str = "default") -> None:
        if not payloads:
            return
        path = os.path.join(self._tmp, f"insert-{os.getpid()}-{next(self._seq)}.bin")
        try:
            with open(path, "wb") as f:
                f.write(length_delimited(payloads))
            try:
                self._insert_file(signal, path, token, tenant)
            except StorageError as exc:
                if engine_flatten.COMPLEX_VALUE_MARK not in str(exc):
                    raise
                # some AnyValue is an array or a map: render those as JSON and insert again (same
                # token: a statement that already went through is deduplicated, not doubled)
                with open(path, "wb") as f:
                    f.write(length_delimited([normalize(signal, p) for p in payloads]))
                self._insert_file(signal, path, token, tenant)
        finally:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def _insert_file(self, signal: Signal, path: str, token: str, tenant: str) -> None:
        with self._wlock:
            for stmt in engine_flatten.STATEMENTS[signal]:
                self._exec(self._wconn, stmt.render(path, self._schema_path, token, tenant))

    def query(self, sql: str, *, readonly: bool = True, limits: QueryLimits | None = None) -> QueryResult:
        if limits is not None and limits != self.limits:
            raise ValueError("chDB storage applies its limits per connection; set them at construction")
        if readonly:
            try:
                statements.require_single(sql)
            except ValueError as exc:
                raise QueryError(str(exc), code=MULTI_STATEMENTS) from None
        lock = self._rlock if readonly else self._wlock
        started = time.perf_counter()
        with lock:
            conn = self._rconn if readonly else self._wconn
            if conn is None:
                raise QueryError("the storage is closed (shutting down)")
            try:
                res = conn.query(sql, "JSONCompact")
            except Exception as exc:
                msg = _clean(str(exc))
                # a query that failed mid-stream leaves its partial output in the connection's
                # buffer, where the next result would land behind it: start a fresh connection
                if readonly:
                    self._replace_reader()
                raise (self.limits.error(msg, _error_code(msg)) if readonly else
                       QueryError(msg, code=_error_code(msg))) from None
            raw = res.bytes()  # inside the lock: the connection reuses the result's buffer
        elapsed_ms = (time.perf_counter() - started) * 1000
        if not raw.strip():
            return QueryResult([], [], [], elapsed_ms)
        doc = json.loads(raw)
        meta = doc.get("meta", [])
        return QueryResult([m["name"] for m in meta], [m["type"] for m in meta], doc.get("data", []), elapsed_ms)

    def _replace_reader(self) -> None:
        old, self._rconn = self._rconn, self._reader()
        try:
            old.close()
        except Exception:  # already broken: nothing more to release
            pass

    def close(self) -> None:
        """Wait for running statements, then close; later calls fail with "storage is closed"."""
        with self._wlock, self._rlock:
            conns, self._rconn, self._wconn = (self._rconn, self._wconn), None, None
        for conn in conns:
            if conn is None:
                continue
            try:
                conn.close()
            except Exception:  # closing after a failed open
                pass


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def length_delimited(payloads: Sequence[bytes]) -> bytes:
    """Messages framed as ClickHouse's ``Protobuf`` format (and protobuf's delimited streams) expect."""
    parts = []
    for p in payloads:
        parts.append(_varint(len(p)))
        parts.append(p)
    return b"".join(parts)
