"""The named simulation scenarios: a load curve, the fleet it hits and what goes wrong.

Two kinds: ``autoscale`` scenarios (``diurnal``, ``spike``) vary the load and let a controller set
the replica count; ``routing`` scenarios (``slow-instance``, ``failing-instance``) keep the fleet
fixed, turn one replica bad at ``onset_s`` and let a controller set the weights the proxies route by.

Rates are kept in the tens to hundreds of requests/s on purpose: through the real pipeline every
simulated request is one span (no sampling), so the rates, error counts and percentiles the policies
read mean exactly what they mean in production, and a scenario still fits in chDB in seconds.
"""
from __future__ import annotations

import dataclasses
import math

from stackeye.core.errors import Fatal


@dataclasses.dataclass(frozen=True)
class ReplicaSpec:
    """One replica's queueing model: ``workers`` concurrent requests, lognormal service time."""

    service_ms: float = 50.0  # mean service (CPU) time of a request
    service_cv: float = 0.5  # coefficient of variation of the service time
    workers: int = 2  # requests served at once; utilization = arrival rate × service time / workers
    startup_s: float = 30.0  # from being started to serving traffic (no spans, not live, before that)
    timeout_ms: float = 5000.0  # a request waiting longer fails (504) at this latency


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # autoscale | routing
    summary: str
    duration_s: float
    tick_s: float  # the fleet's time step
    base_rps: float
    replicas: int  # at the start (autoscale) or throughout (routing)
    slo_p95_ms: float
    replica: ReplicaSpec = ReplicaSpec()
    service: str = "checkout"
    proxies: int = 1  # routing: gateways, each sending 1/proxies of the traffic with its own view
    bad_replica: int = 0  # routing: index of the replica that turns bad
    onset_s: float = math.inf  # routing: when it turns bad
    slow_factor: float = 1.0  # slow-instance: its service time × this
    fail_ratio: float = 0.0  # failing-instance: share of its requests that fail (500)
    min_replicas: int = 2
    max_replicas: int = 20

    def load(self, t: float) -> float:
        """Requests/s offered at ``t`` seconds into the scenario."""
        return self.base_rps * _SHAPES[self.name](t, self.duration_s)

    def bad_at(self, t: float) -> bool:
        return t >= self.onset_s


def _diurnal(t: float, duration: float) -> float:
    # A day: trough at 04:00 (0.25×), peak at 16:00 (1.75× the base, 7× the trough), smooth in between.
    return 1.0 - 0.75 * math.cos(2 * math.pi * ((t / duration) * 24 - 4) / 24)


def _spike(t: float, duration: float) -> float:
    # Flat, then 5× within 60 s at a fifth of the run, held for two fifths, back down within 60 s.
    up, down = duration / 5, 3 * duration / 5
    if t < up:
        return 1.0
    if t < up + 60:
        return 1.0 + 4.0 * (t - up) / 60
    if t < down:
        return 5.0
    if t < down + 60:
        return 5.0 - 4.0 * (t - down) / 60
    return 1.0


def _flat(t: float, duration: float) -> float:
    return 1.0


_SHAPES = {"diurnal": _diurnal, "spike": _spike, "slow-instance": _flat, "failing-instance": _flat}

SCENARIOS = {
    "diurnal": Scenario("diurnal", "autoscale", "24 h: 0.25× to 1.75× of 60 requests/s", 24 * 3600, 15.0,
                        60.0, 3, 250.0),
    "spike": Scenario("spike", "autoscale", "60 requests/s, 5× within 60 s, held, back", 20 * 60, 15.0,
                      60.0, 3, 250.0),
    "slow-instance": Scenario("slow-instance", "routing", "5 replicas behind 3 proxies; one turns 1.75× slower at 60 s",
                              5 * 60, 1.0, 100.0, 5, 250.0, proxies=3, onset_s=60.0, slow_factor=1.75),
    "failing-instance": Scenario("failing-instance", "routing",
                                 "5 replicas behind 3 proxies; one fails half its requests from 60 s",
                                 5 * 60, 1.0, 100.0, 5, 250.0, proxies=3, onset_s=60.0, fail_ratio=0.5),
}


def get(name: str, duration_s: float | None = None) -> Scenario:
    if name not in SCENARIOS:
        raise Fatal(f"unknown scenario {name!r}; scenarios: {', '.join(SCENARIOS)}")
    s = SCENARIOS[name]
    if duration_s is not None:
        if duration_s <= 0:
            raise Fatal(f"--duration must be positive (got {duration_s:g} s)")
        s = dataclasses.replace(s, duration_s=duration_s, onset_s=min(s.onset_s, duration_s / 5))
    return s
