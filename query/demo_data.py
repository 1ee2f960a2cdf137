"""A realistic, deterministic APM data set: traces across services, databases, external APIs and a
queue, host and middleware metrics, logs — as plain records (:mod:`.demo_otlp` turns them into
real OTLP requests and loads them).

The same seed gives the same data, so tests compute the expected answers from :class:`Span`
records (``tests/query/expected.py``) and compare every view with them; ``stackeye demo-data``
loads it into a running stackeye or a data directory. Usage::

    spec = DemoSpec(spans=100_000)
    demo_otlp.load(storage, spec)             # or: for signal, request in demo_otlp.generate(spec): …

Topology: each trace enters at an edge service (SERVER span on a route), which queries its
database, may call an external API (``server.address``/``server.port``, or the older
``net.peer.name``/``net.peer.port`` on every other call) and a downstream service (CLIENT span →
SERVER span), two levels deep. ``checkout``-like services publish to a queue (PRODUCER →
CONSUMER). A batch service has only root INTERNAL spans. About 1 in ``error_every`` requests to a
downstream service fails with an exception event, and the failure propagates to its callers.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import random
from typing import Iterator

SERVER, CLIENT, PRODUCER, CONSUMER, INTERNAL = 2, 3, 4, 5, 1
UNSET, OK, ERROR = 0, 1, 2
NAMES = ["frontend", "checkout", "payments", "inventory", "users", "shipping", "search", "catalog", "reviews", "ads"]
EXTERNALS = ["api.stripe.com:443", "maps.googleapis.com:443", "api.sendgrid.com:443", "s3.amazonaws.com:443"]
DB_SYSTEMS = ["postgresql", "mysql", "redis"]
TABLES = ["orders", "users", "items", "carts", "payments", "stock", "sessions", "reviews"]


@dataclasses.dataclass(frozen=True)
class DemoSpec:
    spans: int = 10_000  # approximate number of spans
    services: int = 6  # edge/backend services, plus one queue consumer and one batch service
    routes: int = 24  # across all services
    statements: int = 30  # distinct normalized SQL statements
    hosts: int = 8
    end: dt.datetime | None = None  # data ends here (default: now, rounded down to the minute)
    hours: float = 2.0  # and spans this long
    seed: int = 42
    error_every: int = 17  # about one request in N to a backend service fails
    batch_size: int = 2000  # spans per OTLP request
    metrics_every_s: int = 60  # host metrics interval
    logs: bool = True

    def __post_init__(self):
        for name in ("spans", "services", "routes", "statements", "hosts", "batch_size", "error_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.services < 2:
            raise ValueError("services must be at least 2 (an edge and a backend)")

    @property
    def end_time(self) -> dt.datetime:
        end = self.end or dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
        return end.astimezone(dt.timezone.utc)

    @property
    def start_time(self) -> dt.datetime:
        return self.end_time - dt.timedelta(hours=self.hours)


@dataclasses.dataclass
class Span:
    trace_id: bytes
    span_id: bytes
    parent_id: bytes
    service: str
    host: str
    name: str
    kind: int
    start_ns: int
    dur_ns: int
    status: int = UNSET
    status_message: str = ""
    attrs: dict = dataclasses.field(default_factory=dict)
    events: list = dataclasses.field(default_factory=list)  # (name, time_ns, attrs)


@dataclasses.dataclass
class Log:
    time_ns: int
    service: str
    host: str
    severity_number: int
    severity_text: str
    body: str
    trace_id: bytes
    span_id: bytes


@dataclasses.dataclass
class HostSample:
    time_ns: int
    host: str
    cpu_idle: float
    mem_free: float
    load_1m: float = 0.0
    disk_bps: float = 0.0  # system.disk.io.rate, summed over devices
    net_bps: float = 0.0  # system.network.io.rate, summed over interfaces and directions


@dataclasses.dataclass
class MiddlewareSample:
    """One point of a middleware metric, as the agent's collectors name them."""

    time_ns: int
    host: str
    instance: str  # server.address of the middleware
    metric: str
    value: float
    kind: str = "gauge"  # or "sum" (cumulative)


class Topology:
    """Services, their routes, statements, hosts, downstreams — fixed by the spec and seed."""

    def __init__(self, spec: DemoSpec):
        r = random.Random(spec.seed)
        n = spec.services
        self.services = [NAMES[i] if i < len(NAMES) else f"svc-{i:03d}" for i in range(n)]
        self.consumer = "fulfillment"
        self.batch = "reporting"
        self.hosts = [f"host-{i:03d}" for i in range(spec.hosts)]
        everyone = self.services + [self.consumer, self.batch]
        self.service_hosts = {s: [self.hosts[(i * 2 + k) % len(self.hosts)] for k in range(1 + (i % 2))]
                              for i, s in enumerate(everyone)}
        self.edges = self.services[: max(1, n // 3)]
        self.backends = self.services[len(self.edges):]
        self.routes = {s: [] for s in self.services}
        for i in range(spec.routes):
            s = self.services[i % n]
            method = "GET" if i % 3 else "POST"
            self.routes[s].append((method, f"/api/{s}/r{i}" + ("/{id}" if i % 4 == 1 else "")))
        self.statements = {s: [] for s in everyone}
        for i in range(spec.statements):
            s = everyone[i % len(everyone)]
            system = DB_SYSTEMS[i % len(DB_SYSTEMS)]
            table = TABLES[i % len(TABLES)]
            text = (f"GET {table}:{{}}" if system == "redis"
                    else f"SELECT id, total FROM {table} WHERE id = {{}} AND shard = {i}")
            self.statements[s].append((system, text))
        self.downstream = {s: self.backends[(i + 1) % len(self.backends)] for i, s in enumerate(self.services)}
        for s in self.backends[-1:]:
            self.downstream[s] = None  # the deepest backend calls no one
        self.externals = {s: (EXTERNALS[i % len(EXTERNALS)] if i % 2 == 0 else None)
                          for i, s in enumerate(self.services)}
        self.producer = self.backends[0]
        self.latency_ms = {s: 5 + r.randrange(40) for s in everyone}


def _id(rng: random.Random, n: int) -> bytes:
    return rng.getrandbits(n * 8).to_bytes(n, "big")


class _TraceBuilder:
    def __init__(self, spec: DemoSpec, topo: Topology, rng: random.Random):
        self.spec, self.topo, self.rng = spec, topo, rng
        self.counter = 0

    def _span(self, trace_id, parent, service, name, kind, start, attrs=None) -> Span:
        hosts = self.topo.service_hosts[service]
        host = hosts[self.rng.randrange(len(hosts))]
        return Span(trace_id, _id(self.rng, 8), parent, service, host, name, kind, start, 0, attrs=attrs or {})

    def _db(self, out, trace_id, parent: Span, start) -> int:
        stmts = self.topo.statements[parent.service]
        if not stmts:
            return start
        for _ in range(1 + self.rng.randrange(2)):
            system, text = stmts[self.rng.randrange(len(stmts))]
            stmt = text.format(self.rng.randrange(1, 10_000))
            key = "db.query.text" if self.rng.random() < 0.5 else "db.statement"
            s = self._span(trace_id, parent.span_id, parent.service, stmt.split()[0] + " " + system, CLIENT, start,
                           {"db.system": system, key: stmt, "db.response.returned_rows": self.rng.randrange(0, 50)})
            s.host = parent.host
            s.dur_ns = (200 + self.rng.randrange(20_000)) * 1000  # 0.2–20 ms
            out.append(s)
            start += s.dur_ns + 50_000
        return start

    def _server(self, out, trace_id, parent_id, service, start, kind=SERVER, depth=0) -> Span:
        routes = self.topo.routes.get(service) or [("GET", "/")]
        method, route = routes[self.rng.randrange(len(routes))]
        attrs = {"http.request.method": method, "http.route": route, "server.address": service, "server.port": 8080}
        name = f"{method} {route}"
        if kind == CONSUMER:
            attrs, name = {"messaging.system": "kafka", "messaging.destination.name": "orders"}, "orders process"
        span = self._span(trace_id, parent_id, service, name, kind, start, attrs)
        out.append(span)
        cursor = start + 100_000
        cursor = self._db(out, trace_id, span, cursor)
        failed = False
        ext = self.topo.externals.get(service)
        if ext and kind == SERVER and self.rng.random() < 0.5:
            host, port = ext.split(":")
            old = self.counter % 2 == 0
            self.counter += 1
            attrs = ({"net.peer.name": host, "net.peer.port": port} if old
                     else {"server.address": host, "server.port": port})
            attrs["http.request.method"] = "POST"
            c = self._span(trace_id, span.span_id, service, "POST", CLIENT, cursor, attrs)
            c.host = span.host
            c.dur_ns = (20 + self.rng.randrange(300)) * 1_000_000
            out.append(c)
            cursor += c.dur_ns
        down = self.topo.downstream.get(service)
        if down and depth < 2:
            c = self._span(trace_id, span.span_id, service, "GET", CLIENT, cursor,
                           {"server.address": down, "server.port": 8080, "http.request.method": "GET"})
            c.host = span.host
            out.append(c)
            child = self._server(out, trace_id, c.span_id, down, cursor + 500_000, depth=depth + 1)
            c.dur_ns = child.dur_ns + 1_000_000
            if child.status == ERROR:
                c.status = ERROR
                failed = True
            cursor += c.dur_ns
        elif kind == SERVER and depth > 0 and self.rng.randrange(self.spec.error_every) == 0:
            failed = True
            order = self.rng.randrange(1000, 99999)
            span.events.append(("exception", cursor, {
                "exception.type": "PaymentDeclined" if service == self.topo.producer else "TimeoutError",
                "exception.message": f"order {order} failed after {self.rng.randrange(2, 9)} attempts",
                "exception.stacktrace": "Traceback (most recent call last):\n  ...",
            }))
        if service == self.topo.producer and kind == SERVER and not failed:
            p = self._span(trace_id, span.span_id, service, "orders publish", PRODUCER, cursor,
                           {"messaging.system": "kafka", "messaging.destination.name": "orders",
                            "server.address": "kafka", "server.port": 9092})
            p.host, p.dur_ns = span.host, 2_000_000
            out.append(p)
            self._server(out, trace_id, p.span_id, self.topo.consumer, cursor + 3_000_000, CONSUMER, depth + 1)
            cursor += p.dur_ns
        self_ms = self.topo.latency_ms[service]
        cursor += (self_ms * 1000 + self.rng.randrange(self_ms * 1000)) * 1000
        span.dur_ns = cursor - start
        if failed:
            span.status, span.status_message = ERROR, "request failed"
            span.attrs["http.response.status_code"] = 500
        elif kind == SERVER:
            span.attrs["http.response.status_code"] = 404 if self.rng.randrange(25) == 0 else 200
        if kind == SERVER and depth == 0 and span.dur_ns > 400_000_000:
            span.events.append(("stackeye.callstack", start + span.dur_ns, {
                "stackeye.callstack.frames": _callstack(span),
            }))
        return span

    def trace(self, start: int) -> list[Span]:
        out: list[Span] = []
        trace_id = _id(self.rng, 16)
        if self.rng.randrange(40) == 0:  # the batch job: root INTERNAL spans only
            root = self._span(trace_id, b"", self.topo.batch, "nightly-report", INTERNAL, start)
            out.append(root)
            end = self._db(out, trace_id, root, start + 1_000_000)
            root.dur_ns = end - start + 5_000_000
            return out
        edges = self.topo.edges
        self._server(out, trace_id, b"", edges[self.rng.randrange(len(edges))], start)
        return out


def _callstack(span: Span) -> str:
    import json

    total = span.dur_ns / 1e6
    return json.dumps([
        {"signature": f"{span.service}.handlers:{span.name.split()[-1]}", "depth": 0, "self_ms": round(total * 0.1, 3),
         "total_ms": round(total, 3), "calls": 1},
        {"signature": "app.services:compute_total", "depth": 1, "self_ms": round(total * 0.6, 3),
         "total_ms": round(total * 0.6, 3), "calls": 2},
        {"signature": "SELECT id, total FROM orders WHERE id = ?", "depth": 1, "self_ms": round(total * 0.3, 3),
         "total_ms": round(total * 0.3, 3), "calls": 3},
    ])


def spans(spec: DemoSpec) -> Iterator[list[Span]]:
    """Traces in time order, until about ``spec.spans`` spans."""
    topo = Topology(spec)
    rng = random.Random(spec.seed)
    builder = _TraceBuilder(spec, topo, rng)
    start_ns = int(spec.start_time.timestamp()) * 1_000_000_000
    span_ns = int(spec.hours * 3600 * 1e9)
    probe = _TraceBuilder(spec, topo, random.Random(spec.seed + 7))
    per_trace = sum(len(probe.trace(0)) for _ in range(200)) / 200
    est_traces = max(1, int(spec.spans / per_trace))
    step = span_ns // est_traces
    made, i = 0, 0
    while made < spec.spans:
        t = start_ns + min(i * step + rng.randrange(max(1, step)), span_ns - 2_000_000_000)
        trace = builder.trace(t)
        made += len(trace)
        i += 1
        yield trace


def logs_for(trace: list[Span]) -> list[Log]:
    out = []
    for s in trace:
        if s.kind not in (SERVER, CONSUMER):
            continue
        if s.status == ERROR:
            out.append(Log(s.start_ns + s.dur_ns, s.service, s.host, 17, "ERROR",
                           f"request {s.name} failed: timeout talking to {s.attrs.get('server.address', 'peer')}",
                           s.trace_id, s.span_id))
        else:
            out.append(Log(s.start_ns + s.dur_ns, s.service, s.host, 9, "INFO",
                           f"handled {s.name} in {s.dur_ns // 1_000_000} ms", s.trace_id, s.span_id))
    return out


def host_samples(spec: DemoSpec) -> list[HostSample]:
    topo = Topology(spec)
    rng = random.Random(spec.seed + 1)
    start = int(spec.start_time.timestamp())
    out = []
    for t in range(start, start + int(spec.hours * 3600), spec.metrics_every_s):
        for h in topo.hosts:
            out.append(HostSample(t * 1_000_000_000, h, round(0.2 + 0.7 * rng.random(), 4), round(0.1 + 0.8 * rng.random(), 4),
                                  round(4 * rng.random(), 2), float(rng.randrange(1, 50_000_000)),
                                  float(rng.randrange(1, 10_000_000))))
    return out


MIDDLEWARE = {  # instance -> (host index, metrics: name -> (low, high) or "counter")
    "nginx-edge:80": (0, {"nginx.requests": "counter", "nginx.requests.rate": (50, 500),
                          "nginx.connections_current": (10, 200)}),
    "redis:6379": (1, {"redis.clients.connected": (5, 50), "redis.commands.processed.rate": (100, 5000),
                       "redis.keyspace.hit_ratio": (0.7, 1.0), "redis.memory.used": (1e8, 2e8)}),
    "postgres:5432": (2, {"postgresql.backends": (5, 80), "postgresql.commits.rate": (10, 900),
                          "postgresql.cache_hit_ratio": (0.9, 1.0)}),
    "mysql:3306": (3, {"mysql.threads": (4, 40), "mysql.queries.rate": (10, 2000)}),
    "kafka:9092": (4, {"kafka.consumer_group.lag_sum": (0, 500), "kafka.brokers": (3, 3)}),
}


def middleware_samples(spec: DemoSpec) -> list[MiddlewareSample]:
    topo = Topology(spec)
    rng = random.Random(spec.seed + 2)
    start = int(spec.start_time.timestamp())
    out = []
    totals: dict[str, float] = {}
    for t in range(start, start + int(spec.hours * 3600), spec.metrics_every_s):
        for instance, (hi, metrics) in MIDDLEWARE.items():
            host = topo.hosts[hi % len(topo.hosts)]
            for name, rangeof in metrics.items():
                if rangeof == "counter":
                    totals[instance] = totals.get(instance, 0.0) + rng.randrange(1000, 30000)
                    out.append(MiddlewareSample(t * 1_000_000_000, host, instance, name, totals[instance], "sum"))
                else:
                    lo, hi_ = rangeof
                    out.append(MiddlewareSample(t * 1_000_000_000, host, instance, name,
                                                round(lo + (hi_ - lo) * rng.random(), 4)))
    return out
