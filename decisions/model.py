"""The values decisions are made of: what a policy reads, what it decides, what it keeps.

Policies are pure: ``decide(inputs, policy, state, now) -> (decisions, new_state)``. Inputs come
from the views and rollups as of ``now`` (:mod:`stackeye.decisions.inputs`); decisions and states
are stored in ``stackeye_decisions`` (:mod:`stackeye.decisions.store`) so that a restart, a backtest
or ``--at TIME`` continues from the same state. Times are UTC ``datetime``s; states hold epoch
seconds (floats) so they round-trip through JSON unchanged.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Mapping


# -- autoscale -------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class InstanceLoad:
    """One live replica of a service over the input window (a distinct ``service.instance.id``)."""

    instance: str
    host: str
    requests: int  # entry spans served
    errors: int
    cpu_pct: float | None  # mean process CPU, % of one core; None when the replica reports none


@dataclasses.dataclass(frozen=True)
class HourLoad:
    """Traffic at the same time of day on a previous day, for the forecast."""

    days_ago: int
    rps_now: float  # requests/s in the hour holding ``now - days_ago``
    rps_ahead: float  # requests/s in the hour after it


@dataclasses.dataclass(frozen=True)
class ServiceLoad:
    """What the autoscale policy sees of one service, over ``window_s`` seconds ending at ``at``."""

    service: str
    at: dt.datetime
    window_s: float
    instances: tuple[InstanceLoad, ...]
    requests: int  # entry spans of every replica
    errors: int
    mean_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    kafka_lag: float | None = None  # messages behind, summed over the consumer groups the service consumes with
    history: tuple[HourLoad, ...] = ()

    @property
    def current_replicas(self) -> int:
        return len(self.instances)

    @property
    def rps(self) -> float:
        return self.requests / self.window_s if self.window_s > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """One target's view: the replica count it asks for, and why."""

    target: str  # cpu | rps | latency_p95 | latency_p99 | kafka_lag | forecast
    observed: float | None  # per replica for cpu/rps/kafka_lag, the fleet's p95/p99 ms for latency
    goal: float
    desired: int | None  # None: the metric is missing (HPA's missing-metric rules decide)
    note: str = ""


@dataclasses.dataclass(frozen=True)
class AutoscaleDecision:
    service: str
    at: dt.datetime
    current_replicas: int
    desired_replicas: int
    limiting_target: str  # the target whose recommendation won, or a rule: min_replicas, max_replicas, tolerance, stabilization, step_limit
    reason: str  # one sentence a person can act on
    recommendations: tuple[Recommendation, ...] = ()
    applied: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # windows, step limits, bounds that shaped the result


@dataclasses.dataclass(frozen=True)
class AutoscaleState:
    """What an autoscale policy carries between evaluations of one service."""

    recommendations: tuple[tuple[float, int], ...] = ()  # (epoch s, desired before stabilization), within the longest window
    scale_events: tuple[tuple[float, int], ...] = ()  # (epoch s, replicas added + or removed −), for step-policy periods
    last_desired: int | None = None


# -- routing ---------------------------------------------------------------------------------------
SOURCES = ("instances", "peers", "gateway")  # SERVER spans per instance | callers' CLIENT spans per host:port | gateway access logs


@dataclasses.dataclass(frozen=True)
class ServerLoad:
    """One server of an upstream set over the input window, pooled over every caller that saw it."""

    upstream: str
    server: str  # instance id, host:port, or the gateway's upstream address
    source: str  # one of SOURCES
    requests: int
    errors: int  # failed requests (5xx, or error status on spans)
    status_5xx: int
    slow_calls: int  # requests slower than the policy's slow-call threshold
    mean_ms: float | None
    p95_ms: float | None
    consecutive_5xx: int = 0  # 5xx in a row at the end of the window
    callers: int = 1  # distinct callers (services or gateways) whose view is pooled here
    host: str = ""  # the host the server runs on (instances: host.name; peers, gateway: the address's host)


@dataclasses.dataclass(frozen=True)
class ServerState:
    weight: float = 100.0
    ejected_until: float = 0.0  # epoch s; 0: not ejected
    times_ejected: int = 0
    breaker: str = "closed"  # closed | open | half_open
    breaker_since: float = 0.0  # epoch s of the last transition
    drained: bool = False
    healthy_since: float = 0.0  # epoch s the ejection multiplier's decay counts from (back in, or its last decay)
    slow_start: bool = False  # back from an ejection or an open breaker: climbing from min_weight
    cause: str = ""  # why it is ejected or its breaker open (the sentence the later decisions repeat)


@dataclasses.dataclass(frozen=True)
class RoutingState:
    servers: Mapping[str, ServerState] = dataclasses.field(default_factory=dict)


STATES = ("active", "ejected", "drained")
BREAKER = ("closed", "open", "half_open")


@dataclasses.dataclass(frozen=True)
class RoutingDecision:
    upstream: str
    server: str
    at: dt.datetime
    weight: int  # 0..max_weight; 0 when not active
    state: str  # one of STATES
    breaker: str  # one of BREAKER
    reason: str
    detail: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # success rate, latency ratio, thresholds
