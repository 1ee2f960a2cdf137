"""Redis INFO: clients, memory, ops/s, hit ratio, keyspace, replication, evictions (redis.*).

Speaks RESP over a plain socket (INFO needs nothing more), so no client library is required.
"""
from __future__ import annotations

import dataclasses
import socket
import time
import urllib.parse

from stackeye.core.config import setting
from stackeye.core.units import DURATION

from ..model import Point
from ..rates import Counters, counter_points
from ..registry import register


@dataclasses.dataclass(frozen=True)
class RedisConfig:
    enabled: bool = setting(False, "Run INFO against a Redis server.")
    url: str = setting("redis://127.0.0.1:6379", "redis://[:password@]host:port (a username works too: "
                                                 "redis://user:password@host:port).")
    timeout: float = setting(5.0, "Give up on one scrape after this long.", unit=DURATION, positive=True)


def parse_info(text: str) -> dict[str, dict[str, str]]:
    """INFO output -> {section: {key: value}} (section names lower-cased)."""
    sections: dict[str, dict[str, str]] = {}
    current = sections.setdefault("default", {})
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            current = sections.setdefault(line[1:].strip().lower(), {})
            continue
        key, sep, value = line.partition(":")
        if sep:
            current[key] = value
    return sections


def _kv(value: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in value.split(",") if "=" in p)


def info_points(info: dict[str, dict[str, str]], counters: Counters, now: float) -> list[Point]:
    flat = {k: v for section in info.values() for k, v in section.items()}

    def num(key):
        try:
            return float(flat[key])
        except (KeyError, ValueError):
            return None

    points: list[Point] = []

    def g(name, key, unit="", **attrs):
        v = num(key)
        if v is not None:
            points.append(Point(name, v, {k.replace("__", "."): a for k, a in attrs.items()}, "gauge", unit))

    def c(name, key, unit="", rate=None):
        v = num(key)
        if v is not None:
            points.extend(counter_points(counters, name, v, now, unit, {}, rate))

    g("redis.clients.connected", "connected_clients", "{client}")
    g("redis.clients.blocked", "blocked_clients", "{client}")
    g("redis.clients.max_input_buffer", "client_recent_max_input_buffer", "By")
    g("redis.memory.used", "used_memory", "By")
    g("redis.memory.rss", "used_memory_rss", "By")
    g("redis.memory.peak", "used_memory_peak", "By")
    g("redis.memory.lua", "used_memory_lua", "By")
    g("redis.maxmemory", "maxmemory", "By")
    g("redis.memory.fragmentation_ratio", "mem_fragmentation_ratio", "1")
    g("redis.uptime", "uptime_in_seconds", "s")
    g("redis.commands", "instantaneous_ops_per_sec", "{ops}/s")
    c("redis.commands.processed", "total_commands_processed", "{command}", "redis.commands.processed.rate")
    c("redis.connections.received", "total_connections_received", "{connection}")
    c("redis.connections.rejected", "rejected_connections", "{connection}")
    c("redis.keyspace.hits", "keyspace_hits", "{hit}")
    c("redis.keyspace.misses", "keyspace_misses", "{miss}")
    c("redis.keys.evicted", "evicted_keys", "{key}")
    c("redis.keys.expired", "expired_keys", "{key}")
    c("redis.net.input", "total_net_input_bytes", "By")
    c("redis.net.output", "total_net_output_bytes", "By")
    hits, misses = num("keyspace_hits"), num("keyspace_misses")
    if hits is not None and misses is not None and hits + misses > 0:
        points.append(Point("redis.keyspace.hit_ratio", hits / (hits + misses), {}, "gauge", "1"))
    for key, value in info.get("keyspace", {}).items():
        fields = _kv(value)
        for f, name in (("keys", "redis.db.keys"), ("expires", "redis.db.expires")):
            if f in fields:
                points.append(Point(name, float(fields[f]), {"db": key.removeprefix("db")}, "gauge", "{key}"))
    repl = info.get("replication", {})
    role = repl.get("role", "")
    if role:
        points.append(Point("redis.replication.role", 1.0, {"role": role}, "gauge", "1"))
    g("redis.slaves.connected", "connected_slaves", "{replica}")
    g("redis.replication.offset", "master_repl_offset", "By")
    if role == "master":
        master_off = num("master_repl_offset") or 0.0
        for key, value in repl.items():
            if key.startswith("slave") and key[5:].isdigit():
                f = _kv(value)
                if "offset" in f:
                    replica = f"{f.get('ip', '')}:{f.get('port', '')}"
                    points.append(Point("redis.replication.replica_lag", max(master_off - float(f["offset"]), 0.0),
                                        {"replica": replica}, "gauge", "By"))
    elif role == "slave":
        g("redis.replication.master_last_io", "master_last_io_seconds_ago", "s")
        link = repl.get("master_link_status")
        if link:
            points.append(Point("redis.replication.link_up", 1.0 if link == "up" else 0.0, {}, "gauge", "1"))
    counters.end_cycle(now)
    return points


def _resp_command(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def _read_reply(f) -> str:
    line = f.readline()
    if not line:
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:].rstrip(b"\r\n")
    if kind == b"-":
        raise RuntimeError(f"redis error: {rest.decode(errors='replace')}")
    if kind == b"+":
        return rest.decode()
    if kind in (b"$", b"="):
        n = int(rest)
        if n < 0:
            return ""
        data = f.read(n + 2)[:n]
        text = data.decode("utf-8", "replace")
        return text[4:] if kind == b"=" else text
    raise RuntimeError(f"unexpected redis reply: {line[:40]!r}")


def fetch_info(url: str, timeout: float) -> str:
    u = urllib.parse.urlparse(url)
    with socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=timeout) as s:
        s.settimeout(timeout)
        f = s.makefile("rb")
        if u.password:
            auth = ("AUTH", urllib.parse.unquote(u.username), urllib.parse.unquote(u.password)) if u.username \
                else ("AUTH", urllib.parse.unquote(u.password))
            s.sendall(_resp_command(*auth))
            _read_reply(f)
        s.sendall(_resp_command("INFO", "everything"))
        return _read_reply(f)


@register("redis", default_enabled=False, config=RedisConfig, middleware=True)
class RedisCollector:
    """Redis INFO: clients, memory, ops/s, hit ratio, keyspace, replication, evictions."""

    def __init__(self, config: RedisConfig):
        self.config = config
        u = urllib.parse.urlparse(config.url)
        self.target = f"{u.hostname}:{u.port or 6379}"
        self.counters = Counters()

    def collect(self) -> list[Point]:
        return info_points(parse_info(fetch_info(self.config.url, self.config.timeout)), self.counters, time.time())
