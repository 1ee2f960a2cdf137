"""A ClickHouse server over the native protocol (``clickhouse://`` / ``clickhouses://`` URLs).

clickhouse-driver, columnar inserts, LZ4-compressed blocks, a small pool of connections (inserts
and queries do not queue behind each other), TLS and user/password from the URL. Requests are
flattened in Python (:mod:`.py_flatten`; why not ``FORMAT Protobuf`` on the server: see there)
and every insert carries ``insert_deduplication_token`` = the batch token, so a batch replayed
after a crash is written once (plain MergeTree: the schema sets ``non_replicated_deduplication_window``;
Replicated tables deduplicate by default).

Start-up checks the server version: below :data:`MIN_SERVER_VERSION` it stops with an error naming
both versions. A server that is down or restarting gives retryable :class:`StorageError` s; the
writer retries them with capped backoff while Kafka holds the backlog.

URL parameters: ``?secure=1`` (same as ``clickhouses://``), ``verify=0`` (TLS without certificate
check), ``ca_certs=/path``, ``compression=lz4|zstd|none`` (default lz4), ``pool=N`` (default 4),
``connect_timeout=S`` (default 5).
"""
from __future__ import annotations

import collections
import contextlib
import datetime
import decimal
import logging
import queue
import re
import threading
import time
import uuid
from typing import Sequence

from stackeye.core.signals import Signal
from stackeye.storage import py_flatten, query_guard, tenant_filters
from stackeye.storage.attribute_limits import AttributeLimits, limit_request
from stackeye.storage.base import QueryError, QueryLimitExceeded, QueryLimits, QueryResult, StorageError, may_recover
from stackeye.storage.migrations import (
    MIGRATIONS_TABLE,
    SchemaOptions,
    apply_migrations,
)
from stackeye.storage.url import StorageURL

log = logging.getLogger("stackeye.storage.native")
# The driver logs every refused connection with a traceback; we raise one clear StorageError instead.
logging.getLogger("clickhouse_driver.connection").setLevel(logging.ERROR)

# The schema needs: insert_deduplication_token (22.2), Bool columns (21.12), Map columns and
# bloom_filter indexes over mapKeys/mapValues without experimental flags (21.8+).
MIN_SERVER_VERSION = (22, 2)
WHY_MIN_VERSION = "insert_deduplication_token 22.2, Bool 21.12, Map columns 21.8"

# Server error codes worth retrying: resources that may free up, replicas and keeper coming back.
_RETRYABLE = {3, 159, 160, 202, 203, 209, 210, 241, 242, 243, 252, 285, 319, 425, 439, 999, 1000}
_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _version_str(v: tuple[int, ...]) -> str:
    return ".".join(str(x) for x in v)


class ServerTooOld(StorageError):
    def __init__(self, where: str, found: tuple[int, ...], needed: tuple[int, ...]):
        super().__init__(
            f"ClickHouse server at {where} is version {_version_str(found)}; stackeye's schema needs "
            f"{_version_str(needed)} or newer ({WHY_MIN_VERSION}). Upgrade the server, or use embedded "
            "storage (--clickhouse chdb:///path).",
            retryable=False,
        )
        self.found, self.needed = found, needed


class NativeStorage:
    """Storage on a ClickHouse server. ``columns`` limits inserts to some columns per table (for
    servers with a reduced schema, e.g. the tests' 18.16); ``min_version`` overrides the check."""

    def __init__(self, url: StorageURL, schema: SchemaOptions | None = None, limits: QueryLimits | None = None,
                 attributes: AttributeLimits | None = None, *, min_version: tuple[int, int] = MIN_SERVER_VERSION,
                 columns: dict[str, Sequence[str]] | None = None):
        try:
            import clickhouse_driver  # noqa: F401
        except ImportError:
            raise StorageError("clickhouse:// storage needs clickhouse-driver: pip install 'stackeye[cluster]'",
                               retryable=False) from None
        if not _DB_NAME.match(url.database):
            raise StorageError(f"bad database name {url.database!r}: letters, digits and _ only", retryable=False)
        self.url = url
        self.schema = schema or SchemaOptions()
        self.limits = limits or QueryLimits()
        self.min_version = tuple(min_version)
        self.columns = {t: tuple(c) for t, c in (columns or {}).items()}
        params = dict(url.params)
        self.pool_size = max(1, int(params.get("pool", 4)))
        self.connect_timeout = float(params.get("connect_timeout", 5))
        comp = params.get("compression", "lz4")
        self.compression = False if comp in ("none", "0", "false") else comp
        self.verify = params.get("verify", "1") not in ("0", "false")
        self.ca_certs = params.get("ca_certs")
        self._pool: queue.LifoQueue = queue.LifoQueue()
        self._created = 0
        self._lock = threading.Lock()
        self.server_version: tuple[int, ...] = ()
        self.attributes = attributes or AttributeLimits()
        self._catalog: tuple[float, list] | None = None  # (read at, [(database, table, has Tenant)])
        self._known_settings: frozenset[str] | None = None
        with self._client(database="default"):  # connect now: version check, clear errors
            pass

    # -- connections -----------------------------------------------------------------------------
    def _where(self) -> str:
        return f"{self.url.host}:{self.url.port}"

    def _new_client(self, database: str):
        from clickhouse_driver import Client

        kwargs = dict(
            host=self.url.host, port=self.url.port, database=database, user=self.url.user,
            password=self.url.password, secure=self.url.secure, verify=self.verify,
            compression=self.compression, connect_timeout=self.connect_timeout,
            send_receive_timeout=max(30, self.limits.max_execution_time + 10),
            client_name="stackeye", settings={"use_numpy": False},
        )
        if self.ca_certs:
            kwargs["ca_certs"] = self.ca_certs
        client = Client(**kwargs)
        try:
            client.execute("SELECT 1")
        except Exception as exc:
            client.disconnect()
            raise self._error(exc, "cannot connect") from None
        info = client.connection.server_info
        self.server_version = (info.version_major, info.version_minor, info.version_patch)
        if self.server_version[:2] < self.min_version:
            client.disconnect()
            raise ServerTooOld(self._where(), self.server_version, self.min_version)
        return client

    @contextlib.contextmanager
    def _client(self, database: str | None = None):
        """A pooled connection to the URL's database (or a one-off one to ``database``)."""
        if database is not None:
            client = self._new_client(database)
            try:
                yield client
            finally:
                client.disconnect()
            return
        try:
            client = self._pool.get_nowait()
        except queue.Empty:
            with self._lock:
                grow = self._created < self.pool_size
                if grow:
                    self._created += 1
            if grow:
                try:
                    client = self._new_client(self.url.database)
                except BaseException:
                    with self._lock:
                        self._created -= 1
                    raise
            else:
                client = self._pool.get()
        ok = False
        try:
            yield client
            ok = True
        finally:
            if ok or client.connection.connected:
                self._pool.put(client)
            else:  # broken: drop it, the next use reconnects
                client.disconnect()
                with self._lock:
                    self._created -= 1

    def _error(self, exc: BaseException, doing: str) -> StorageError:
        from clickhouse_driver import errors

        if isinstance(exc, StorageError):
            return exc
        if isinstance(exc, errors.ServerException):
            first = str(exc.message).strip().split("\n")[0]
            msg = f"ClickHouse at {self._where()}: {doing}: Code: {exc.code}. {first}"
            return StorageError(msg, retryable=may_recover(exc.code, msg, _RETRYABLE), code=exc.code)
        if isinstance(exc, (errors.NetworkError, errors.SocketTimeoutError, errors.UnexpectedPacketFromServerError,
                            OSError, EOFError)):
            return StorageError(f"ClickHouse at {self._where()} is unreachable ({doing}: {exc}); will retry",
                                retryable=True)
        if isinstance(exc, errors.Error):
            return StorageError(f"ClickHouse at {self._where()}: {doing}: {exc}", retryable=False,
                                code=getattr(exc, "code", None))
        return StorageError(f"ClickHouse at {self._where()}: {doing}: {type(exc).__name__}: {exc}", retryable=False)

    def _run(self, doing: str, fn, database: str | None = None):
        try:
            with self._client(database) as client:
                try:
                    return fn(client)
                except BaseException:
                    client.disconnect()  # state unknown after an error mid-protocol
                    raise
        except StorageError:
            raise
        except Exception as exc:
            raise self._error(exc, doing) from None

    def execute(self, sql: str) -> None:
        """One statement on the URL's database (DDL, maintenance)."""
        self._run("execute", lambda c: c.execute(sql))

    # -- Storage ---------------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        on_cluster = f" ON CLUSTER {self.schema.cluster}" if self.schema.cluster else ""
        self._run("create database",
                  lambda c: c.execute(f"CREATE DATABASE IF NOT EXISTS {self.url.database}{on_cluster}"),
                  database="default")

        def applied():
            return [row[0] for row in self._run("read migrations", lambda c: c.execute(f"SELECT version FROM {MIGRATIONS_TABLE}"))]

        return apply_migrations(self.execute, applied, self.schema, progress=log.info)

    def insert_otlp(self, signal: Signal, payloads: Sequence[bytes], token: str,
                    tenant: str = "default") -> dict[str, int]:
        """Flattened in Python (:mod:`.py_flatten`), attributes cut to :attr:`attributes` first (the
        cuts are returned, as the chDB path returns them)."""
        if not payloads:
            return {}
        from google.protobuf.message import DecodeError

        cut: collections.Counter = collections.Counter()
        try:
            limited = []
            for payload in payloads:
                payload, cuts = limit_request(signal, payload, self.attributes)
                cut.update(cuts)
                limited.append(payload)
            tables = py_flatten.flatten(signal, limited)
        except DecodeError as exc:
            raise StorageError(f"undecodable {signal.name.lower()} request: {exc}", retryable=False) from None
        settings = {k: v for k, v in (
            ("insert_deduplicate", 1),
            ("insert_deduplication_token", token),
            ("deduplicate_blocks_in_dependent_materialized_views", 1),
            # cluster: a Distributed insert returns only once every shard has its rows
            ("insert_distributed_sync", 1 if self.schema.cluster else 0),
        ) if k in self._insert_settings() and (v or k != "insert_distributed_sync")}
        for table, cols in tables.items():
            cols["Tenant"] = [tenant] * py_flatten.row_count(cols)  # every row of the batch is its tenant's
            names = self.columns.get(table) or tuple(cols)
            if table in self.columns and not self.columns[table]:
                continue
            data = [cols[n] for n in names]
            quoted = ", ".join(f"`{n}`" for n in names)
            self._run(f"insert into {table}",
                      lambda c: c.execute(f"INSERT INTO {table} ({quoted}) VALUES", data, columnar=True,
                                          settings=settings, types_check=False))
        return dict(cut)

    def _insert_settings(self) -> frozenset[str]:
        """The deduplication settings this server knows (all of them from MIN_SERVER_VERSION on;
        only a server admitted with a lower ``min_version`` lacks some, and is warned about)."""
        if self._known_settings is None:
            wanted = ("insert_deduplicate", "insert_deduplication_token", "deduplicate_blocks_in_dependent_materialized_views",
                      "insert_distributed_sync")
            rows = self._run("read settings", lambda c: c.execute(
                "SELECT name FROM system.settings WHERE name IN %(names)s", {"names": wanted}))
            self._known_settings = frozenset(r[0] for r in rows)
            missing = sorted(set(wanted[:3]) - self._known_settings)
            if missing:
                log.warning("ClickHouse %s does not know %s: replayed batches may be written twice",
                            _version_str(self.server_version), ", ".join(missing))
        return self._known_settings

    def query(self, sql: str, *, readonly: bool = True, limits: QueryLimits | None = None,
              tenant: str | None = None, untrusted: bool = False) -> QueryResult:
        lim = limits or self.limits
        settings = dict(lim.settings())  # old settings: ClickHouse 18.16 knows them all
        if readonly:
            if tenant is not None:
                settings.update(self._tenant_settings(tenant))  # before readonly: after it none can be set
            settings["readonly"] = 1
            if tenant is not None or untrusted:
                self._judge(sql)
        elif tenant is not None:
            raise ValueError("a tenant's queries are read-only")
        started = time.perf_counter()
        try:
            rows, meta = self._run("query", lambda c: c.execute(sql, with_column_types=True, settings=settings))
        except StorageError as exc:
            over = lim.error(str(exc), exc.code)
            if isinstance(over, QueryLimitExceeded):  # retrying the same query would hit it again
                raise over from None
            if exc.retryable:
                raise
            raise QueryError(str(exc), code=exc.code) from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        return QueryResult([m[0] for m in meta], [m[1] for m in meta], [[_plain(v) for v in r] for r in rows], elapsed_ms)

    def _judge(self, sql: str) -> None:
        """:mod:`.query_guard` on the server's parse (EXPLAIN AST exists from ClickHouse 20.6; the 18.16
        of the protocol tests has none, and the server refuses multi-statement texts itself)."""
        if self.server_version[:2] < (20, 6):
            return
        try:
            rows = self._run("judge", lambda c: c.execute("EXPLAIN AST " + sql, settings={"readonly": 1}))
        except StorageError as exc:
            if exc.retryable:
                raise
            raise QueryError(str(exc), code=exc.code) from None
        try:
            query_guard.check("\n".join(r[0] for r in rows))
        except query_guard.Refused as exc:
            raise QueryError(str(exc), code=exc.code) from None

    def _tenant_settings(self, tenant: str) -> dict:
        """``additional_table_filters`` confining a query to ``tenant`` (the catalog read once a minute)."""
        try:
            tenant_filters.check_tenant(tenant)
        except ValueError as exc:
            raise QueryError(str(exc)) from None
        now = time.monotonic()
        if self._catalog is None or now - self._catalog[0] > 60:
            rows = self._run("read the catalog", lambda c: c.execute(tenant_filters.CATALOG_QUERY))
            self._catalog = (now, [tuple(r) for r in rows])
        table_filters = tenant_filters.filters(tenant, self._catalog[1])
        return {"additional_table_filters": tenant_filters.map_literal(table_filters)}

    def close(self) -> None:
        while True:
            try:
                self._pool.get_nowait().disconnect()
            except queue.Empty:
                return
            except Exception:
                continue


def _plain(v):
    """JSON-friendly values, as the chDB path returns them."""
    if isinstance(v, (datetime.datetime, datetime.date)):
        return v.isoformat(sep=" ") if isinstance(v, datetime.datetime) else v.isoformat()
    if isinstance(v, (decimal.Decimal, uuid.UUID)):
        return str(v)
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return v
