"""Gateway access logs → per-upstream request metrics: what the nginx and HAProxy collectors share.

A collector parses each line of its gateway's access log into an :class:`AccessRecord` (the
request as the client saw it, and every attempt the gateway made at an upstream server: nginx logs
one per retry and internal redirect) and :class:`AccessStats` counts them. Every interval the
collector reports the counts so far (cumulative from when the agent started reading, like every
counter of the agent), with resource ``service.name`` = the gateway's name:

- ``gateway.upstream.requests`` (sum; ``gateway.kind``, ``gateway.upstream``, ``server.address``,
  ``http.response.status_code``): attempts per server and status;
- ``gateway.upstream.duration`` (histogram, seconds): how long each attempt took;
- ``gateway.upstream.consecutive_5xx`` (gauge): 5xx answers in a row from that server, up to now;
- ``gateway.requests`` (sum; ``gateway.kind``, ``http.response.status_code``) and
  ``gateway.request.duration`` (histogram, seconds): the gateway's own answers, for the gateway view;
- ``gateway.access_log.unparsed`` (sum): lines not in the expected format (a warning names the fix).

Files are read by :class:`stackeye.agent.logtail.LogTailer` (globs, rename and copytruncate
rotation); offsets stay in memory because the counts start again with the agent anyway.
"""
from __future__ import annotations

import bisect
import dataclasses
import logging
import time
from typing import Callable

from .config import LogSource
from .logtail import LogTailer, Record
from .model import Point, counter, gauge, histogram

log = logging.getLogger("stackeye.agent")

# Upper bounds (seconds) of the duration buckets: OpenTelemetry's default histogram boundaries
# (which are milliseconds) read as seconds/1000, plus 30 s and 60 s for slow upstreams.
DURATION_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0, 60.0)


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One try of one upstream server (nginx writes several for a retried request)."""

    upstream: str  # nginx $proxy_host, HAProxy's backend
    server: str  # host:port (nginx), the server's name in its backend (HAProxy)
    status: int | None  # None: the server gave no status (nginx "-"); the attempt is not counted
    seconds: float | None  # None: not measured ("-", or a -1 HAProxy timer)


@dataclasses.dataclass(frozen=True)
class AccessRecord:
    """One access-log line: the answer the client got, and the upstream attempts behind it."""

    status: int
    seconds: float | None
    attempts: tuple[Attempt, ...] = ()


class _Histogram:
    def __init__(self):
        self.buckets = [0] * (len(DURATION_BOUNDS) + 1)
        self.count = 0
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.buckets[bisect.bisect_left(DURATION_BOUNDS, seconds)] += 1  # bucket i holds (b[i-1], b[i]]
        self.count += 1
        self.total += seconds


class AccessStats:
    """Cumulative counts of one gateway's access log since ``start`` (epoch seconds)."""

    def __init__(self, kind: str, gateway: str, start: float):
        self.kind, self.gateway, self.start = kind, gateway, start
        self.upstream_requests: dict[tuple[str, str, int], int] = {}
        self.upstream_duration: dict[tuple[str, str], _Histogram] = {}
        self.consecutive_5xx: dict[tuple[str, str], int] = {}
        self.requests: dict[int, int] = {}
        self.duration = _Histogram()
        self.unparsed = 0

    def add(self, rec: AccessRecord) -> None:
        self.requests[rec.status] = self.requests.get(rec.status, 0) + 1
        if rec.seconds is not None:
            self.duration.observe(rec.seconds)
        for a in rec.attempts:
            if a.status is None:
                continue
            server = (a.upstream, a.server)
            key = (a.upstream, a.server, a.status)
            self.upstream_requests[key] = self.upstream_requests.get(key, 0) + 1
            self.consecutive_5xx[server] = self.consecutive_5xx.get(server, 0) + 1 if a.status >= 500 else 0
            hist = self.upstream_duration.setdefault(server, _Histogram())
            if a.seconds is not None:
                hist.observe(a.seconds)

    def points(self) -> list[Point]:
        res = {"service.name": self.gateway}
        kind = {"gateway.kind": self.kind}
        out: list[Point] = []

        def add(p: Point) -> None:
            out.append(dataclasses.replace(p, resource=res))

        for (upstream, server, status), n in sorted(self.upstream_requests.items()):
            add(counter("gateway.upstream.requests", n, self.start, "{request}", gateway__kind=self.kind,
                        gateway__upstream=upstream, server__address=server, http__response__status_code=status))
        for (upstream, server), h in sorted(self.upstream_duration.items()):
            attrs = {**kind, "gateway.upstream": upstream, "server.address": server}
            add(histogram("gateway.upstream.duration", h.total, h.count, DURATION_BOUNDS, tuple(h.buckets),
                          self.start, "s", attrs))
            add(gauge("gateway.upstream.consecutive_5xx", self.consecutive_5xx.get((upstream, server), 0),
                      "{response}", gateway__kind=self.kind, gateway__upstream=upstream, server__address=server))
        for status, n in sorted(self.requests.items()):
            add(counter("gateway.requests", n, self.start, "{request}", gateway__kind=self.kind,
                        http__response__status_code=status))
        if self.requests:
            add(histogram("gateway.request.duration", self.duration.total, self.duration.count, DURATION_BOUNDS,
                          tuple(self.duration.buckets), self.start, "s", kind))
        add(counter("gateway.access_log.unparsed", self.unparsed, self.start, "{line}", gateway__kind=self.kind))
        return out


class AccessLogReader:
    """Tail ``path`` (a glob), parse each new line with ``parse`` and count it; :meth:`collect`
    returns the metrics so far. ``parse`` raises ValueError for a line not in its format; the first
    such line is logged with ``fix`` (how to configure the gateway's log format)."""

    def __init__(self, kind: str, gateway: str, path: str, start_at: str,
                 parse: Callable[[str], AccessRecord | None], fix: str, clock: Callable[[], float] = time.time):
        self.stats = AccessStats(kind, gateway, clock())
        self.parse = parse
        self.fix = fix
        self.target = path
        self._warned = False
        source = LogSource(path=path, severity="none", start_at=start_at)
        self.tailer = LogTailer([source], None, self._lines, clock=clock)

    def _lines(self, records: list[Record]) -> None:
        for r in records:
            if not r.body.strip():
                continue
            try:
                rec = self.parse(r.body)
            except ValueError as exc:
                self.stats.unparsed += 1
                if not self._warned:
                    log.warning("%s access log %s: a line is not in the expected format (%s); %s",
                                self.stats.kind, r.path, exc, self.fix)
                    self._warned = True
                continue
            if rec is not None:
                self.stats.add(rec)

    def collect(self) -> list[Point]:
        self.tailer.poll()
        return self.stats.points()

    def close(self) -> None:
        self.tailer.close()
