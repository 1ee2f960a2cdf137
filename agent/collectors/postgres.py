"""PostgreSQL: pg_stat_database, connections by state, locks, replication lag (postgresql.*). Needs psycopg."""
from __future__ import annotations

import dataclasses
import time
from typing import Iterable, Mapping

from stackeye.core.config import setting
from stackeye.core.units import DURATION

from ..model import Point
from ..rates import Counters, counter_points
from ..registry import register, require


@dataclasses.dataclass(frozen=True)
class PostgresConfig:
    enabled: bool = setting(False, "Query a PostgreSQL server (needs psycopg: pip install 'stackeye[agent]'); the user needs pg_monitor.")
    url: str = setting("postgresql://postgres@127.0.0.1:5432/postgres", "libpq URL: "
                                                                        "postgresql://user[:password]@host:port/dbname")
    timeout: float = setting(5.0, "Give up on one scrape after this long.", unit=DURATION, positive=True)


DATABASE_SQL = """
SELECT datname, numbackends, xact_commit, xact_rollback, blks_read, blks_hit, tup_returned, tup_fetched,
       tup_inserted, tup_updated, tup_deleted, deadlocks, temp_bytes, pg_database_size(datid) AS size
FROM pg_stat_database WHERE datname IS NOT NULL AND datname NOT IN ('template0', 'template1')
"""
ACTIVITY_SQL = "SELECT coalesce(state, 'unknown') AS state, count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1"
LOCKS_SQL = "SELECT mode, granted, count(*) AS n FROM pg_locks GROUP BY 1, 2"
REPLICATION_SQL = """
SELECT coalesce(application_name, '') AS replica, coalesce(host(client_addr), '') AS addr,
       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0) AS lag_bytes,
       coalesce(extract(epoch FROM replay_lag), 0) AS lag_seconds
FROM pg_stat_replication
"""
RECOVERY_SQL = """
SELECT pg_is_in_recovery() AS in_recovery,
       CASE WHEN pg_is_in_recovery() THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END AS lag_seconds,
       (SELECT setting::float FROM pg_settings WHERE name = 'max_connections') AS max_connections
"""

_DB_COUNTERS = (
    ("postgresql.commits", "xact_commit", "{transaction}", "postgresql.commits.rate"),
    ("postgresql.rollbacks", "xact_rollback", "{transaction}", None),
    ("postgresql.blocks_read", "blks_read", "{block}", None),
    ("postgresql.blocks_hit", "blks_hit", "{block}", None),
    ("postgresql.tup_returned", "tup_returned", "{tuple}", None),
    ("postgresql.tup_fetched", "tup_fetched", "{tuple}", None),
    ("postgresql.tup_inserted", "tup_inserted", "{tuple}", None),
    ("postgresql.tup_updated", "tup_updated", "{tuple}", None),
    ("postgresql.tup_deleted", "tup_deleted", "{tuple}", None),
    ("postgresql.deadlocks", "deadlocks", "{deadlock}", None),
    ("postgresql.temp_bytes", "temp_bytes", "By", None),
)


def parse_stats(databases: Iterable[Mapping], activity: Iterable[Mapping], locks: Iterable[Mapping],
                 replication: Iterable[Mapping], recovery: Mapping | None, counters: Counters, now: float) -> list[Point]:
    """Points from the rows (dicts) of the queries above."""
    points: list[Point] = []
    for row in databases:
        db = {"postgresql.database.name": row["datname"]}
        points.append(Point("postgresql.backends", float(row["numbackends"]), db, "gauge", "{connection}"))
        if row.get("size") is not None:
            points.append(Point("postgresql.db_size", float(row["size"]), db, "gauge", "By"))
        for name, col, unit, rate in _DB_COUNTERS:
            if row.get(col) is not None:
                points += counter_points(counters, name, float(row[col]), now, unit, db, rate)
        hit, read = float(row.get("blks_hit") or 0), float(row.get("blks_read") or 0)
        if hit + read > 0:
            points.append(Point("postgresql.cache_hit_ratio", hit / (hit + read), db, "gauge", "1"))
    for row in activity:
        points.append(Point("postgresql.connections", float(row["n"]), {"state": row["state"]}, "gauge", "{connection}"))
    for row in locks:
        points.append(Point("postgresql.database.locks", float(row["n"]),
                            {"mode": row["mode"], "granted": str(bool(row["granted"])).lower()}, "gauge", "{lock}"))
    for row in replication:
        attrs = {"replica": row["replica"] or row["addr"]}
        points.append(Point("postgresql.replication.data_delay", float(row["lag_bytes"]), attrs, "gauge", "By"))
        points.append(Point("postgresql.wal.lag", float(row["lag_seconds"]), attrs, "gauge", "s"))
    if recovery:
        if recovery.get("max_connections") is not None:
            points.append(Point("postgresql.connection.max", float(recovery["max_connections"]), {}, "gauge", "{connection}"))
        points.append(Point("postgresql.in_recovery", 1.0 if recovery.get("in_recovery") else 0.0, {}, "gauge", "1"))
        if recovery.get("lag_seconds") is not None:
            points.append(Point("postgresql.replica.lag", float(recovery["lag_seconds"]), {}, "gauge", "s"))
    counters.end_cycle(now)
    return points


def fetch_stats(url: str, timeout: float):
    psycopg = require("psycopg", "psycopg[binary]")  # optional dependency: stackeye[agent]
    dict_row = require("psycopg.rows", "psycopg[binary]").dict_row

    with psycopg.connect(url, connect_timeout=max(int(timeout), 1), autocommit=True, row_factory=dict_row,
                         options=f"-c statement_timeout={int(timeout * 1000)}") as conn:
        out = []
        for sql in (DATABASE_SQL, ACTIVITY_SQL, LOCKS_SQL, REPLICATION_SQL):
            out.append(conn.execute(sql).fetchall())
        out.append(conn.execute(RECOVERY_SQL).fetchone())
        return out


@register("postgres", default_enabled=False, config=PostgresConfig, middleware=True)
class PostgresCollector:
    """PostgreSQL: per-database activity and cache hits, connections by state, locks, replication lag."""

    def __init__(self, config: PostgresConfig):
        import urllib.parse

        self.config = config
        u = urllib.parse.urlparse(config.url)
        self.target = f"{u.hostname}:{u.port or 5432}"
        self.counters = Counters()

    def collect(self) -> list[Point]:
        databases, activity, locks, replication, recovery = fetch_stats(self.config.url, self.config.timeout)
        return parse_stats(databases, activity, locks, replication, recovery, self.counters, time.time())
