"""Test doubles of the two policies, for the evaluator's and the store's tests: the smallest policies
that exercise what the evaluator owns (inputs in, state carried across evaluations and restarts,
decisions stored). The real ones are stackeye.decisions.autoscale / routing, tested on their own.

``autoscale``: desired = ceil(current × mean CPU / cpu_pct), scale-down stabilized over
``scale_down_window`` (the highest recommendation in it wins), kept in AutoscaleState.
``routing``: weight max_weight, or 0 and ejected for a server with 5 failures in a row.
"""
from __future__ import annotations

import dataclasses
import math

from stackeye.core.config import setting
from stackeye.core.units import DURATION
from stackeye.decisions.base import Policy
from stackeye.decisions.model import AutoscaleDecision, AutoscaleState, RoutingDecision, RoutingState, ServerState


@dataclasses.dataclass(frozen=True)
class AutoscaleSettings:
    window: float = setting(60.0, "input window", unit=DURATION, positive=True)
    kafka_group: str = setting("", "consumer group")
    min_replicas: int = setting(1, "fewest replicas", minimum=0)
    max_replicas: int = setting(10, "most replicas", positive=True)
    cpu_pct: float = setting(60.0, "CPU target", positive=True)
    scale_down_window: float = setting(300.0, "scale-down stabilization", unit=DURATION)


def _validate(s) -> list[tuple[str, str]]:
    if s.min_replicas > s.max_replicas:
        return [("max_replicas", f"must be at least min_replicas ({s.min_replicas}), got {s.max_replicas}")]
    return []


def _autoscale(load, s, state, now):
    cpus = [i.cpu_pct for i in load.instances if i.cpu_pct is not None]
    current = load.current_replicas
    raw = math.ceil(current * (sum(cpus) / len(cpus)) / s.cpu_pct) if cpus else current
    t = now.timestamp()
    recs = tuple((ts, d) for ts, d in state.recommendations if ts > t - s.scale_down_window) + ((t, raw),)
    desired = min(max(max(d for _, d in recs), s.min_replicas), s.max_replicas)
    reason = f"cpu {sum(cpus) / len(cpus) if cpus else 0:.0f}% of target {s.cpu_pct:.0f}% asks {raw}; {desired} kept"
    decision = AutoscaleDecision(load.service, now, current, desired, "cpu", reason,
                                 applied={"scale_down_window_s": s.scale_down_window})
    return [decision], AutoscaleState(recs, state.scale_events, desired)


@dataclasses.dataclass(frozen=True)
class RoutingSettings:
    source: str = setting("instances", "where the servers come from", choices=("instances", "peers", "gateway"))
    service: str = setting("", "the service (default: the key)")
    slow_call_ms: float = setting(1000.0, "slow call threshold", positive=True)
    window: float = setting(30.0, "input window", unit=DURATION, positive=True)
    max_weight: int = setting(100, "the highest weight", positive=True)


def _routing(loads, s, state, now):
    out, servers = [], dict(state.servers)
    for load in loads:
        prev = servers.get(load.server, ServerState(weight=s.max_weight))
        bad = load.consecutive_5xx >= 5
        servers[load.server] = dataclasses.replace(prev, weight=0.0 if bad else float(s.max_weight),
                                                   times_ejected=prev.times_ejected + int(bad))
        out.append(RoutingDecision(load.upstream, load.server, now, 0 if bad else s.max_weight,
                                   "ejected" if bad else "active", "closed",
                                   f"{load.consecutive_5xx} failures in a row" if bad else "healthy"))
    return out, RoutingState(servers)


AUTOSCALE = Policy("autoscale", "replicas from CPU (test double)", AutoscaleSettings, AutoscaleState, _autoscale,
                   _validate, key_noun="service")
ROUTING = Policy("routing", "eject on 5 failures (test double)", RoutingSettings, RoutingState, _routing,
                 key_noun="upstream")
POLICIES = {"autoscale": AUTOSCALE, "routing": ROUTING}


def policy_of(name: str):
    if name not in POLICIES:
        raise KeyError(f"unknown decision policy {name!r}; policies: {', '.join(POLICIES)}")
    return POLICIES[name]


KNOWN = {"policy_of": policy_of, "names": list(POLICIES)}
