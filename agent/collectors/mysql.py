"""MySQL/MariaDB: SHOW GLOBAL STATUS and VARIABLES, replica status (mysql.*). Needs pymysql."""
from __future__ import annotations

import dataclasses
import time
import urllib.parse
from typing import Mapping

from stackeye.core.config import setting
from stackeye.core.units import DURATION

from ..model import Point
from ..rates import Counters, counter_points
from ..registry import register, require


@dataclasses.dataclass(frozen=True)
class MysqlConfig:
    enabled: bool = setting(False, "Query a MySQL or MariaDB server (needs the pymysql package: pip install 'stackeye[agent]').")
    url: str = setting("mysql://root@127.0.0.1:3306", "mysql://user[:password]@host:port (a monitoring user needs "
                                                      "only PROCESS and REPLICATION CLIENT).")
    timeout: float = setting(5.0, "Give up on one scrape after this long.", unit=DURATION, positive=True)


_COMMANDS = ("select", "insert", "update", "delete", "replace", "commit", "rollback")


def parse_status(status: Mapping[str, str], variables: Mapping[str, str], replica: Mapping[str, object] | None,
                  counters: Counters, now: float) -> list[Point]:
    """Points from SHOW GLOBAL STATUS, SHOW GLOBAL VARIABLES and SHOW SLAVE STATUS (or None)."""
    s = {k.lower(): v for k, v in status.items()}
    var = {k.lower(): v for k, v in variables.items()}

    def num(d, key):
        try:
            return float(d[key])
        except (KeyError, TypeError, ValueError):
            return None

    points: list[Point] = []

    def c(name, key, unit, attrs=None, rate=None):
        v = num(s, key)
        if v is not None:
            points.extend(counter_points(counters, name, v, now, unit, attrs or {}, rate))

    def g(name, value, unit, attrs=None):
        if value is not None:
            points.append(Point(name, float(value), attrs or {}, "gauge", unit))

    c("mysql.queries", "questions", "{query}", rate="mysql.queries.rate")
    c("mysql.slow_queries", "slow_queries", "{query}")
    c("mysql.connections", "connections", "{connection}")
    c("mysql.connection.errors", "aborted_connects", "{error}", {"error": "aborted_connects"})
    c("mysql.connection.errors", "connection_errors_max_connections", "{error}", {"error": "max_connections"})
    for cmd in _COMMANDS:
        c("mysql.commands", f"com_{cmd}", "{command}", {"command": cmd})
    for kind in ("connected", "running", "cached"):
        g("mysql.threads", num(s, f"threads_{kind}"), "{thread}", {"kind": kind})
    g("mysql.connections.max", num(var, "max_connections"), "{connection}")
    g("mysql.uptime", num(s, "uptime"), "s")
    # InnoDB buffer pool
    for kind in ("data", "free", "misc", "total", "dirty"):
        g("mysql.buffer_pool.pages", num(s, f"innodb_buffer_pool_pages_{kind}"), "{page}", {"kind": kind})
    g("mysql.buffer_pool.limit", num(var, "innodb_buffer_pool_size"), "By")
    g("mysql.buffer_pool.data_size", num(s, "innodb_buffer_pool_bytes_data"), "By")
    c("mysql.buffer_pool.read_requests", "innodb_buffer_pool_read_requests", "{request}")
    c("mysql.buffer_pool.reads", "innodb_buffer_pool_reads", "{read}")
    req, reads = num(s, "innodb_buffer_pool_read_requests"), num(s, "innodb_buffer_pool_reads")
    if req:
        g("mysql.buffer_pool.hit_ratio", max(1.0 - (reads or 0.0) / req, 0.0), "1")
    # Replication
    if replica:
        lag = replica.get("Seconds_Behind_Master", replica.get("Seconds_Behind_Source"))
        running = all(str(replica.get(k, "")).lower() == "yes"
                      for k in ("Slave_IO_Running", "Slave_SQL_Running") if k in replica)
        g("mysql.replica.running", 1.0 if running else 0.0, "1")
        if lag is not None:
            g("mysql.replica.time_behind_source", float(lag), "s")
    counters.end_cycle(now)
    return points


def fetch_status(url: str, timeout: float):
    pymysql = require("pymysql", "pymysql")  # optional dependency: stackeye[agent]

    u = urllib.parse.urlparse(url)
    conn = pymysql.connect(host=u.hostname or "127.0.0.1", port=u.port or 3306,
                           user=urllib.parse.unquote(u.username or "root"),
                           password=urllib.parse.unquote(u.password or ""),
                           connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS")
            status = dict(cur.fetchall())
            cur.execute("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('max_connections', 'innodb_buffer_pool_size')")
            variables = dict(cur.fetchall())
            replica = None
            try:
                cur.execute("SHOW SLAVE STATUS")
                row = cur.fetchone()
                if row:
                    replica = dict(zip([d[0] for d in cur.description], row))
            except pymysql.MySQLError:
                pass  # no privilege or not supported: no replication metrics
        return status, variables, replica
    finally:
        conn.close()


@register("mysql", default_enabled=False, config=MysqlConfig, middleware=True)
class MysqlCollector:
    """MySQL/MariaDB: QPS, connections, threads, slow queries, InnoDB buffer pool, replica lag."""

    def __init__(self, config: MysqlConfig):
        self.config = config
        u = urllib.parse.urlparse(config.url)
        self.target = f"{u.hostname}:{u.port or 3306}"
        self.counters = Counters()

    def collect(self) -> list[Point]:
        status, variables, replica = fetch_status(self.config.url, self.config.timeout)
        return parse_status(status, variables, replica, self.counters, time.time())
