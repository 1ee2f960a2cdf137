"""Middleware collectors: parse functions on canned input, and each against its real server
(nginx from apt on a free port, the machine's Redis, MariaDB, PostgreSQL, a tansu Kafka broker)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request

import pytest
from stackeye.agent import config as agent_config
from stackeye.agent import registry
from stackeye.agent.collectors.jolokia import parse_jolokia
from stackeye.agent.collectors.kafka import normalize_metadata, parse_kafka
from stackeye.agent.collectors.mysql import parse_status
from stackeye.agent.collectors.nginx import parse_stub_status, stub_status_points
from stackeye.agent.collectors.postgres import parse_stats
from stackeye.agent.collectors.redis import info_points, parse_info
from stackeye.agent.rates import Counters
from stackeye.agent.registry import Instance
from support.logs import log_tail
from support.services import free_port, port_open, require, require_service
from support.wait import wait_until

from .conftest import FIXTURES


def names(points):
    return {p.name for p in points}


def value(points, name, **attrs):
    found = [p for p in points if p.name == name and all(p.attrs.get(k) == v for k, v in attrs.items())]
    assert found, (name, attrs, sorted(names(points)))
    return found[0].value


def run(name, **section):
    reg = registry.get(name)
    cfg = agent_config.build_section(reg.config_class, {"enabled": True, **section}, f"collectors.{name}")
    inst = Instance(reg, cfg)
    try:
        first, _, ok = inst.run()
        assert ok, inst.last_error
        time.sleep(0.05)
        second, _, ok = inst.run()
        assert ok, inst.last_error
    finally:
        inst.close()
    assert value(second, f"{name}.up") == 1
    return first, second


# -- canned input ------------------------------------------------------------------------------

STUB = "Active connections: 291 \nserver accepts handled requests\n 16630948 16630948 31070465 \nReading: 6 Writing: 179 Waiting: 106 \n"


def test_parse_nginx_stub_status():
    s = parse_stub_status(STUB)
    assert s == {"active": 291, "accepted": 16630948, "handled": 16630948, "requests": 31070465,
                 "reading": 6, "writing": 179, "waiting": 106}
    c = Counters()
    stub_status_points(s, c, 100)
    pts = stub_status_points({**s, "requests": s["requests"] + 500}, c, 110)
    assert value(pts, "nginx.requests.rate") == 50
    assert value(pts, "nginx.connections_current", state="waiting") == 106
    with pytest.raises(ValueError):
        parse_stub_status("<html>404</html>")


def test_parse_redis_info():
    text = open(os.path.join(FIXTURES, "redis_info.txt")).read()
    info = parse_info(text)
    pts = info_points(info, Counters(), 100)
    assert value(pts, "redis.clients.connected") == 2
    assert value(pts, "redis.memory.used") == 1048576
    assert value(pts, "redis.commands") == 12
    assert value(pts, "redis.keyspace.hit_ratio") == pytest.approx(0.75)
    assert value(pts, "redis.db.keys", db="0") == 42 and value(pts, "redis.db.expires", db="0") == 3
    assert value(pts, "redis.keys.evicted") == 7
    assert value(pts, "redis.replication.replica_lag", replica="10.0.0.2:6380") == 100


def test_parse_mysql_status():
    status = {"Questions": "1000", "Slow_queries": "3", "Threads_connected": "5", "Threads_running": "2",
              "Innodb_buffer_pool_pages_data": "900", "Innodb_buffer_pool_pages_total": "1000",
              "Innodb_buffer_pool_read_requests": "10000", "Innodb_buffer_pool_reads": "100", "Com_select": "600",
              "Uptime": "3600", "Connections": "50"}
    c = Counters()
    parse_status(status, {"max_connections": "151"}, None, c, 100)
    pts = parse_status({**status, "Questions": "1500"}, {"max_connections": "151"},
                       {"Seconds_Behind_Master": 4, "Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes"}, c, 110)
    assert value(pts, "mysql.queries.rate") == 50
    assert value(pts, "mysql.threads", kind="connected") == 5
    assert value(pts, "mysql.buffer_pool.hit_ratio") == pytest.approx(0.99)
    assert value(pts, "mysql.replica.time_behind_source") == 4 and value(pts, "mysql.replica.running") == 1
    assert value(pts, "mysql.connections.max") == 151


def test_parse_postgres_stats():
    dbs = [{"datname": "app", "numbackends": 3, "xact_commit": 100, "xact_rollback": 1, "blks_read": 10, "blks_hit": 90,
            "tup_returned": 5, "tup_fetched": 5, "tup_inserted": 1, "tup_updated": 1, "tup_deleted": 0, "deadlocks": 0,
            "temp_bytes": 0, "size": 8_000_000}]
    pts = parse_stats(dbs, [{"state": "active", "n": 2}, {"state": "idle", "n": 5}],
                      [{"mode": "AccessShareLock", "granted": True, "n": 4}],
                      [{"replica": "r1", "addr": "10.0.0.3", "lag_bytes": 4096, "lag_seconds": 0.5}],
                      {"in_recovery": False, "lag_seconds": None, "max_connections": 100}, Counters(), 100)
    assert value(pts, "postgresql.backends", **{"postgresql.database.name": "app"}) == 3
    assert value(pts, "postgresql.cache_hit_ratio") == pytest.approx(0.9)
    assert value(pts, "postgresql.connections", state="idle") == 5
    assert value(pts, "postgresql.database.locks", mode="AccessShareLock", granted="true") == 4
    assert value(pts, "postgresql.replication.data_delay", replica="r1") == 4096


def test_parse_kafka_lag():
    parts = normalize_metadata([
        {"name": "orders", "is_internal": False, "partitions": [
            {"partition_index": 0, "leader_id": 1, "replica_nodes": [1], "isr_nodes": [1]},
            {"partition_index": 1, "leader_id": 1, "replica_nodes": [1], "isr_nodes": [1]}]},
        {"name": "__consumer_offsets", "is_internal": True, "partitions": [{"partition_index": 0}]}], True)
    pts = parse_kafka([{"node_id": 1}], parts, {("orders", 0): 100, ("orders", 1): 50},
                      {"billing": {("orders", 0): 90, ("orders", 1): -1}})
    assert value(pts, "kafka.brokers") == 1
    assert value(pts, "kafka.topic.partitions", topic="orders") == 2
    assert value(pts, "kafka.consumer_group.lag", group="billing", topic="orders", partition="0") == 10
    assert value(pts, "kafka.consumer_group.lag_sum", group="billing", topic="orders") == 10
    assert "__consumer_offsets" not in {p.attrs.get("topic") for p in pts}


def test_parse_jolokia_canned_json():
    doc = json.load(open(os.path.join(FIXTURES, "jolokia_tomcat.json")))
    c = Counters()
    parse_jolokia(doc, c, 100)
    pts = parse_jolokia(doc, c, 110)
    assert value(pts, "jvm.memory.used", **{"jvm.memory.type": "heap"}) == 52428800
    assert value(pts, "jvm.memory.limit", **{"jvm.memory.type": "heap"}) == 268435456
    assert value(pts, "jvm.gc.collections.count", **{"jvm.gc.name": "G1 Young Generation"}) == 17
    assert value(pts, "jvm.gc.collections.elapsed", **{"jvm.gc.name": "G1 Old Generation"}) == pytest.approx(0.25)
    assert value(pts, "jvm.thread.count") == 31
    assert value(pts, "tomcat.requests", **{"tomcat.processor": "http-nio-8080"}) == 1200
    assert value(pts, "tomcat.threads.busy", **{"tomcat.processor": "http-nio-8080"}) == 3
    with pytest.raises(ValueError):
        parse_jolokia([{"status": 404, "error": "not found"}], c, 120)


# -- real servers ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(binary):
        msg = "nginx is not installed; install it with: apt-get install nginx (listed in scripts/apt-packages.txt)"
        require(False, msg)
    d = tmp_path_factory.mktemp("nginx")
    port = free_port()
    (d / "nginx.conf").write_text(f"""
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
worker_processes 1;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /nginx_status {{ stub_status; }}
        location / {{ return 200 "ok\\n"; }}
    }}
}}
""")
    proc = subprocess.Popen([binary, "-p", str(d), "-c", str(d / "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: port_open("127.0.0.1", port), timeout=5, interval=0.05,
               message=lambda: f"nginx did not listen on {port}\n{log_tail(str(d / 'error.log'))}")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


def test_nginx_against_real_nginx(nginx):
    for _ in range(3):
        urllib.request.urlopen(nginx + "/", timeout=5).read()
    first, second = run("nginx", url=nginx + "/nginx_status")
    assert value(second, "nginx.connections_current", state="active") >= 1
    assert value(second, "nginx.requests") > value(first, "nginx.requests") >= 4
    assert "nginx.requests.rate" in names(second)


def test_redis_against_real_redis():
    require_service("Redis", "127.0.0.1", 6379, "scripts/services-up")
    import redis

    r = redis.Redis(host="127.0.0.1", port=6379, db=0)
    r.set("stackeye-agent-test", "1", ex=60)
    r.get("stackeye-agent-test")
    r.get("stackeye-agent-test-missing")
    _, pts = run("redis", url="redis://127.0.0.1:6379")
    assert value(pts, "redis.clients.connected") >= 1
    assert value(pts, "redis.memory.used") > 0
    assert value(pts, "redis.db.keys", db="0") >= 1
    assert 0 <= value(pts, "redis.keyspace.hit_ratio") <= 1
    assert value(pts, "redis.replication.role", role="master") == 1
    assert {"redis.commands", "redis.keys.evicted", "redis.commands.processed.rate"} <= names(pts)


def test_mariadb_against_real_server():
    require_service("MariaDB", "127.0.0.1", 3306, "scripts/services-up")
    _, pts = run("mysql", url="mysql://root@127.0.0.1:3306")
    assert value(pts, "mysql.threads", kind="connected") >= 1
    assert value(pts, "mysql.connections.max") > 0
    assert value(pts, "mysql.buffer_pool.pages", kind="total") > 0
    assert {"mysql.queries", "mysql.queries.rate", "mysql.slow_queries", "mysql.buffer_pool.hit_ratio"} <= names(pts)


def test_postgres_against_real_server():
    require_service("PostgreSQL", "127.0.0.1", 5432, "scripts/services-up")
    _, pts = run("postgres", url="postgresql://postgres@127.0.0.1:5432/postgres")
    assert value(pts, "postgresql.backends", **{"postgresql.database.name": "postgres"}) >= 1
    assert value(pts, "postgresql.connections", state="active") >= 1  # our own query
    assert value(pts, "postgresql.connection.max") > 0
    assert {"postgresql.commits", "postgresql.commits.rate", "postgresql.database.locks",
            "postgresql.cache_hit_ratio"} <= names(pts)
