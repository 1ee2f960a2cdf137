"""HAProxy's HTTP log (``option httplog``) → per-backend-server requests, statuses and latencies.

HAProxy's default HTTP log line, as syslog writes it or as ``log stdout format raw`` prints it::

    [<syslog header> haproxy[pid]: ]10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1
        10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 "GET /index.html HTTP/1.1"

that is ``client:port [accept date] frontend backend/server TR/Tw/Tc/Tr/Ta status bytes ...``.
The timers are milliseconds, ``-1`` when that phase never happened (the request aborted, no
connection, no response); ``Ta`` is ``+``-prefixed under ``option logasap``. ``<NOSRV>`` as server:
HAProxy answered itself (no server was available, a deny, a redirect) and no server is charged.

Per attempt: the server is HAProxy's name for it in its backend (``srv1``, what ``set server
backend/srv1`` addresses); its time is ``Ta - TR - Tw`` (connect, response and transfer, without
the client's request time and the queue); its status is the status the client got (HAProxy's own
502/503/504 when the server failed to answer count against the server).
"""
from __future__ import annotations

import dataclasses
import re

from stackeye.core.config import ConfigError, setting
from stackeye.core.units import DURATION

from ..access_log import AccessLogReader, AccessRecord, Attempt
from ..registry import register

NO_SERVER = "<NOSRV>"
HTTPLOG = re.compile(
    r"(?P<client>\S+):(?P<client_port>\d+) \[(?P<accepted>[^\]]+)\] (?P<frontend>\S+) "
    r"(?P<backend>[^\s/]+)/(?P<server>\S+) "
    r"(?P<TR>-?\d+)/(?P<Tw>-?\d+)/(?P<Tc>-?\d+)/(?P<Tr>-?\d+)/\+?(?P<Ta>-?\d+) "
    r"(?P<status>-?\d+) \+?(?P<bytes>\d+)")
REQUEST_START = re.compile(r"\S+:\d+ \[[^\]]+\] \S+ \S+/\S+ ")  # a request's log line, in some format
SETTINGS = ("global: log stdout format raw local0 (or a syslog target), defaults or frontend: log global, "
            "mode http, option httplog")


@dataclasses.dataclass(frozen=True)
class HaproxyAccessConfig:
    enabled: bool = setting(False, "Count HAProxy's HTTP log (option httplog) per backend server.")
    path: str = setting("/var/log/haproxy.log", "Glob of the file(s) HAProxy's log lines end up in (rsyslog's "
                                                "/var/log/haproxy.log, or haproxy's stdout redirected to a file). "
                                                "HAProxy needs: " + SETTINGS + ".", "GLOB")
    name: str = setting("haproxy", "The gateway's name: resource service.name of its metrics and its row in the "
                                   "gateway view.")
    start_at: str = setting("end", "Read the files from their start (\"beginning\") or only the lines written "
                                   "after the agent started (\"end\").", choices=("beginning", "end"))
    timeout: float = setting(5.0, "Give up on one pass over the log after this long.", unit=DURATION, positive=True)

    def validate(self) -> None:
        if not self.name:
            raise ConfigError("name", "the gateway needs a name, e.g. 'haproxy' or 'edge-haproxy'")


def _ms(value: str) -> int | None:
    n = int(value)
    return None if n < 0 else n


def parse_line(line: str) -> AccessRecord | None:
    """One line of HAProxy's log → the request and its server attempt; None for a line of
    request ("Proxy x started.", "Server b/s is DOWN", other programs' syslog lines). A request's
    line in another format (tcplog, a custom log-format) is a ValueError."""
    m = HTTPLOG.search(line)
    if not m:
        if REQUEST_START.search(line):
            raise ValueError(f"a request logged in another format than option httplog: {line[:120]!r}")
        return None
    status = int(m["status"])
    status = status if status > 0 else 0
    tr, tw, ta = _ms(m["TR"]), _ms(m["Tw"]), _ms(m["Ta"])
    total = ta / 1000 if ta is not None else None
    attempts: tuple[Attempt, ...] = ()
    if m["server"] != NO_SERVER:
        upstream_s = max(ta - (tr or 0) - (tw or 0), 0) / 1000 if ta is not None else None
        attempts = (Attempt(m["backend"], m["server"], status or None, upstream_s),)
    return AccessRecord(status, total, attempts)


@register("haproxy_access", default_enabled=False, config=HaproxyAccessConfig)
class HaproxyAccessCollector:
    """HAProxy HTTP log (option httplog): requests, 5xx and latency per backend server."""

    def __init__(self, config: HaproxyAccessConfig):
        self.reader = AccessLogReader("haproxy", config.name, config.path, config.start_at, parse_line,
                                      f"HAProxy must log in its default HTTP format ({SETTINGS})")
        self.target = config.path

    def collect(self):
        return self.reader.collect()

    def close(self) -> None:
        self.reader.close()
