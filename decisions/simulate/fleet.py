"""The simulated replicas of one service: start-up delay, a queue per replica, latency and failures.

Each replica is an M/M/c-like server (``workers`` concurrent requests, lognormal service time):

- utilization ρ = λ·S/c (λ its arrival rate, S the mean service time, c the workers); CPU % = ρ;
- below saturation a request waits with Erlang C's probability P(wait) for an exponential time of
  mean 1/(c/S − λ) — the textbook M/M/c response time;
- above it the excess accumulates as a backlog (a fluid queue carried from tick to tick) that adds
  backlog/(c/S) to every request's wait; a request that would wait beyond ``timeout_ms`` fails (504);
- a started replica serves nothing (and reports nothing) for ``startup_s``;
- the scenario's bad replica serves ``slow_factor`` × slower, or fails ``fail_ratio`` of requests (500).

The per-request random numbers (arrival time, proxy, service-time and wait draws, the routing draw)
come from one stream seeded by ``seed`` and do not depend on decisions: two controllers given the
same seed see the same requests; only where they go, and so their latency, differs.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from stackeye.decisions.queueing import erlang_c
from stackeye.decisions.simulate.router import route
from stackeye.decisions.simulate.scenarios import Scenario

OK, FAILED, TIMED_OUT = 200, 500, 504


@dataclasses.dataclass
class Replica:
    instance: str
    started_at: float
    live_at: float
    backlog: float = 0.0  # requests queued beyond what the workers absorb (fluid)

    def live(self, t: float) -> bool:
        return t >= self.live_at


@dataclasses.dataclass(frozen=True)
class Tick:
    """One step of simulated time: every request and every replica's state."""

    t0: float
    dt: float
    instances: tuple[str, ...]  # replicas provisioned during the tick (live or starting)
    live: np.ndarray  # bool per instance
    cpu: np.ndarray  # utilization 0..1 per instance (0 while starting)
    time: np.ndarray  # per request: arrival, seconds since the scenario's start (sorted)
    proxy: np.ndarray  # per request: the proxy it came through
    replica: np.ndarray  # per request: index into ``instances``
    latency_ms: np.ndarray
    status: np.ndarray  # 200 | 500 | 504
    load_rps: float  # offered load (the curve's value at the tick's start)

    @property
    def requests(self) -> int:
        return int(self.time.size)

    @property
    def failed(self) -> int:
        return int(np.count_nonzero(self.status != OK))

    def p95_ms(self) -> float | None:
        return float(np.percentile(self.latency_ms, 95)) if self.time.size else None


class Fleet:
    def __init__(self, scenario: Scenario, seed: int = 1):
        self.scenario = scenario
        self._rng = np.random.default_rng(seed)
        self._serial = 0
        self.replicas: list[Replica] = []
        self.bad_instance = f"{scenario.service}-{scenario.bad_replica + 1:03d}"
        for _ in range(scenario.replicas):
            self._add(-math.inf, live_at=-math.inf)

    def _add(self, now: float, live_at: float | None = None) -> None:
        self._serial += 1
        instance = f"{self.scenario.service}-{self._serial:03d}"
        self.replicas.append(Replica(instance, now, now + self.scenario.replica.startup_s if live_at is None else live_at))

    def scale(self, desired: int, now: float) -> None:
        """Start replicas (live after the start-up delay) or stop them (starting ones first, then the newest)."""
        desired = max(1, int(desired))
        while len(self.replicas) < desired:
            self._add(now)
        while len(self.replicas) > desired:
            starting = [r for r in self.replicas if not r.live(now)]
            self.replicas.remove(starting[-1] if starting else self.replicas[-1])

    def tick(self, t0: float, weights: dict | None = None) -> Tick:
        """Simulate ``[t0, t0 + tick_s)``; ``weights``: per proxy index, {instance: weight} (None: equal)."""
        s, spec = self.scenario, self.scenario.replica
        dt, rng = s.tick_s, self._rng
        load = s.load(t0)
        n = int(rng.poisson(load * dt))
        time = np.sort(t0 + rng.random(n) * dt)
        proxy = rng.integers(0, s.proxies, n)
        u_route, z_service, u_fail, u_wait, e_wait = rng.random(n), rng.standard_normal(n), rng.random(n), \
            rng.random(n), rng.exponential(1.0, n)
        instances = tuple(r.instance for r in self.replicas)
        live = np.array([r.live(t0) for r in self.replicas], dtype=bool)
        replica = route(instances, live, proxy, u_route, weights or {})
        latency = np.zeros(n)
        status = np.full(n, OK, dtype=np.int32)
        cpu = np.zeros(len(instances))
        sigma = math.sqrt(math.log(1 + spec.service_cv ** 2))
        for i, r in enumerate(self.replicas):
            mask = replica == i
            k = int(np.count_nonzero(mask))
            bad = s.bad_at(t0) and r.instance == self.bad_instance
            service_s = spec.service_ms / 1000 * (s.slow_factor if bad else 1.0)
            capacity = spec.workers / service_s  # requests/s the workers absorb
            lam = k / dt
            offered = lam * service_s
            cpu[i] = min(1.0, offered / spec.workers) if live[i] else 0.0
            start_backlog = r.backlog
            r.backlog = min(max(0.0, r.backlog + (lam - capacity) * dt), capacity * spec.timeout_ms / 1000)
            if not k:
                continue
            service = service_s * np.exp(sigma * z_service[mask] - sigma ** 2 / 2) * 1000
            wait = np.zeros(k)
            if offered < spec.workers:
                waits = u_wait[mask] < erlang_c(spec.workers, offered)
                wait[waits] = e_wait[mask][waits] / (capacity - lam) * 1000
            # the backlog at each request's arrival, interpolated over the tick
            frac = (time[mask] - t0) / dt
            backlog = start_backlog + (r.backlog - start_backlog) * frac
            wait += backlog / capacity * 1000
            lat = wait + service
            st = np.full(k, OK, dtype=np.int32)
            if bad and s.fail_ratio:
                st[u_fail[mask] < s.fail_ratio] = FAILED
            late = lat > spec.timeout_ms
            st[late], lat[late] = TIMED_OUT, spec.timeout_ms
            latency[mask], status[mask] = lat, st
        return Tick(t0, dt, instances, live, cpu, time, proxy, replica, latency, status, load)
