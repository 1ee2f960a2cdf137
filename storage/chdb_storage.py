"""Embedded storage: chDB (ClickHouse's engine in-process) on a local data directory.

One process owns a data directory (chDB holds a file lock); everything else queries through that
process's HTTP API. Inside the process there are two connections: one for the writer's inserts and
one, read-only and limited, for queries, so a long insert never blocks a dashboard.
"""
from __future__ import annotations

import collections
import itertools
import json
import logging
import os
import re
import threading
import time
from typing import Sequence

from stackeye.core.signals import Signal
from stackeye.storage import engine_flatten, query_guard, statements, tenant_filters
from stackeye.storage.base import QueryError, QueryLimits, QueryResult, StorageError, may_recover
from stackeye.storage.attribute_limits import AttributeLimits, limit_request
from stackeye.storage.canonical import canonical, refused_encoding
from stackeye.storage.complex_values import normalize
from stackeye.storage.migrations import (
    MIGRATIONS_TABLE,
    SchemaOptions,
    apply_migrations,
)
from stackeye.storage.otlp_schema import write_schema
from stackeye.storage.reader_pool import ReaderPool
from stackeye.storage.url import StorageURL

log = logging.getLogger("stackeye.storage")
MULTI_STATEMENTS = 62  # ClickHouse's SYNTAX_ERROR, which its server answers to a multi-statement query
TENANT_POOLS_KEPT = 64  # tenants whose reader connections stay open (the least recently used close first)

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

    def __init__(self, url: StorageURL, schema: SchemaOptions | None = None, limits: QueryLimits | None = None,
                 attributes: AttributeLimits | None = None):
        import chdb  # imported here so cluster-only processes never load the engine

        if not _DB_NAME.match(url.database):
            raise StorageError(f"bad database name {url.database!r}: letters, digits and _ only", retryable=False)
        self.url = url
        self.schema = schema or SchemaOptions()
        self.limits = limits or QueryLimits()
        self.attributes = attributes or AttributeLimits()
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
        self._wlock = threading.Lock()
        self._seq = itertools.count()
        self._exec(self._wconn, f"CREATE DATABASE IF NOT EXISTS {url.database}")
        self._exec(self._wconn, f"USE {url.database}")
        # the operator's reader: one connection, callers queue (as they always have)
        self._readers = ReaderPool(self._reader, 1, "the query connection")
        self._tenant_readers: dict[str, ReaderPool] = {}
        self._tenants_lock = threading.Lock()
        with self._readers.connection():
            pass  # opened now: a broken data directory fails here, not on the first query
        # EXPLAIN AST of the queries to judge: it only parses, so no filters; no result-row limit either
        # (a long query's AST has many lines)
        self._parser = self._connect(url.path)
        self._exec(self._parser, "SET readonly = 1")
        self._parser_lock = threading.Lock()

    def _reader(self, tenant: str | None = None):
        """A read-only connection for user SQL and the views, with the query limits (rows, time,
        memory with spilling to disk, threads) as session settings; for a tenant, also the filters
        that confine it to that tenant's rows (:mod:`.tenant_filters`)."""
        conn = self._connect(self.url.path)
        limits = [f"SET {name} = '{value}'" if isinstance(value, str) else f"SET {name} = {int(value)}"
                  for name, value in self.limits.settings().items()]
        confine = []
        if tenant is not None:
            with self._wlock:
                out = self._exec(self._wconn, tenant_filters.CATALOG_QUERY, "TSVRaw").bytes().decode()
            catalog = [tuple(line.split("\t")) for line in out.splitlines() if line]
            statement = tenant_filters.setting_statement(tenant_filters.filters(tenant, catalog))
            # one entry per table of every database on the data path: room for thousands of tables
            confine = [f"SET max_query_size = {max(262144, 2 * len(statement))}", statement]
        for stmt in (
            f"USE {self.url.database}",
            "SET output_format_json_quote_64bit_integers = 0",
            "SET output_format_json_quote_64bit_floats = 0",
            *limits,
            *confine,
            "SET readonly = 1",  # last: from here on it can neither write nor change settings
        ):
            self._exec(conn, stmt)
        return conn

    def _pool(self, tenant: str | None) -> ReaderPool:
        if tenant is None:
            return self._readers
        tenant_filters.check_tenant(tenant)
        with self._tenants_lock:
            pool = self._tenant_readers.pop(tenant, None)
            if pool is None:
                pool = ReaderPool(lambda: self._reader(tenant), self.limits.tenant_concurrency,
                                  f"tenant {tenant}", wait_s=float(self.limits.max_execution_time),
                                  raised_by=dict(self.limits.raised_by).get("tenant_concurrency", "tenant_concurrency"))
            self._tenant_readers[tenant] = pool  # most recently used last
            idle = [t for t in self._tenant_readers if t != tenant][:max(0, len(self._tenant_readers) - TENANT_POOLS_KEPT)]
            retired = [self._tenant_readers.pop(t) for t in idle]
        for old in retired:
            threading.Thread(target=old.close, daemon=True, name="close-tenant-readers").start()
        return pool

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
            raise StorageError(msg, retryable=may_recover(_error_code(msg), msg, _RETRYABLE), code=_error_code(msg)) from None

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

    def insert_otlp(self, signal: Signal, payloads: Sequence[bytes], token: str,
                    tenant: str = "default") -> dict[str, int]:
        if not payloads:
            return {}
        path = os.path.join(self._tmp, f"insert-{os.getpid()}-{next(self._seq)}.bin")
        cut: collections.Counter = collections.Counter()
        fallbacks = {engine_flatten.COMPLEX_VALUE_MARK, engine_flatten.ATTRIBUTE_LIMIT_MARK, "canonical"}
        try:
            while True:
                with open(path, "wb") as f:
                    f.write(length_delimited(payloads))
                try:
                    self._insert_file(signal, path, token, tenant)
                    return dict(cut)
                except StorageError as exc:
                    mark = next((m for m in fallbacks if m in str(exc)), None)
                    if mark is None and refused_encoding(str(exc)) and "canonical" in fallbacks:
                        mark = "canonical"
                    if mark is None:
                        raise
                    fallbacks.discard(mark)  # each fallback once: then the engine takes the batch
                # Insert again with the same token: a statement that already went through is
                # deduplicated, not doubled (its rows are the same: it had nothing to rewrite).
                if mark == engine_flatten.COMPLEX_VALUE_MARK:  # arrays or maps: rendered as JSON
                    payloads = [normalize(signal, p) for p in payloads]
                elif mark == "canonical":  # the engine refused how a request is encoded: re-encode it
                    payloads = [canonical(signal, p) for p in payloads]
                else:  # attributes over the limits: cut them, count the cuts
                    payloads = [self._limited(signal, p, cut) for p in payloads]
        finally:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def _limited(self, signal: Signal, payload: bytes, cut: collections.Counter) -> bytes:
        payload, cuts = limit_request(signal, payload, self.attributes)
        cut.update(cuts)
        return payload

    def _insert_file(self, signal: Signal, path: str, token: str, tenant: str) -> None:
        with self._wlock:
            for stmt in engine_flatten.STATEMENTS[signal]:
                self._exec(self._wconn, stmt.render(path, self._schema_path, token, self.attributes, tenant))

    def query(self, sql: str, *, readonly: bool = True, limits: QueryLimits | None = None,
              tenant: str | None = None, untrusted: bool = False) -> QueryResult:
        """Run SQL. With ``tenant``, on that tenant's connections, seeing only its rows. A tenant's
        queries and ``untrusted`` ones (SQL as a user wrote it) are judged first (:mod:`.query_guard`)."""
        if limits is not None and limits != self.limits:
            raise ValueError("chDB storage applies its limits per connection; set them at construction")
        if not readonly and tenant is not None:
            raise ValueError("a tenant's queries are read-only")
        started = time.perf_counter()
        if readonly:
            try:
                statements.require_single(sql)
            except ValueError as exc:
                raise QueryError(str(exc), code=MULTI_STATEMENTS) from None
            try:
                pool = self._pool(tenant)
            except ValueError as exc:
                raise QueryError(str(exc)) from None
            with pool.connection() as conn:
                if tenant is not None or untrusted:
                    self._judge(sql)
                raw = self._run(conn, sql, readonly=True)
        else:
            with self._wlock:
                raw = self._run(self._wconn, sql, readonly=False)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if not raw.strip():
            return QueryResult([], [], [], elapsed_ms)
        doc = json.loads(raw)
        meta = doc.get("meta", [])
        return QueryResult([m["name"] for m in meta], [m["type"] for m in meta], doc.get("data", []), elapsed_ms)

    def _judge(self, sql: str) -> None:
        """Refuse what readonly lets through but must not run (ClickHouse parses, nothing executes)."""
        try:
            with self._parser_lock:
                if self._parser is None:
                    raise QueryError("the storage is closed (shutting down)")
                ast = self._parser.query("EXPLAIN AST " + sql, "TSVRaw").bytes().decode()
            query_guard.check(ast)
        except query_guard.Refused as exc:
            err = QueryError(str(exc), code=exc.code)
        except Exception as exc:  # ClickHouse's parser refused it: its syntax error is the answer
            msg = _clean(str(exc))
            err = self.limits.error(msg, _error_code(msg))
        else:
            return
        err.connection_intact = True  # nothing ran: the connection stays in the pool
        raise err

    def _run(self, conn, sql: str, readonly: bool) -> bytes:
        if conn is None:
            raise QueryError("the storage is closed (shutting down)")
        try:
            res = conn.query(sql, "JSONCompact")
        except Exception as exc:
            # (a failed read-only query leaves its partial output in the connection's buffer: the
            # pool discards the connection as this error leaves its block)
            msg = _clean(str(exc))
            raise (self.limits.error(msg, _error_code(msg)) if readonly else
                   QueryError(msg, code=_error_code(msg))) from None
        return res.bytes()  # while the connection is held: it reuses the result's buffer

    def close(self) -> None:
        """Wait for running statements, then close; later calls fail with "storage is closed"."""
        with self._tenants_lock:
            pools, self._tenant_readers = [self._readers, *self._tenant_readers.values()], {}
        for pool in pools:
            pool.close()
        with self._wlock, self._parser_lock:
            conns, self._wconn, self._parser = (self._wconn, self._parser), None, None
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
