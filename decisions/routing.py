"""The routing policy: a weight, a state and a breaker for every server of an upstream set.

``decide(loads, settings, state, now)`` is pure (no clock, no storage, no globals). Per server, in
this order of precedence:

1. **drained** (the ``drained`` flag of its state, set by an operator): weight 0, state ``drained``;
   nothing else is evaluated and its weight is kept for when the flag is lifted.
2. **ejected** (:mod:`.outlier`, Envoy's outlier detection over every caller's calls pooled):
   weight 0, state ``ejected`` until its ejection time is up; then back in at ``min_weight`` in slow
   start. An ejection resets the breaker (the server comes back through slow start either way).
3. **breaker** (:mod:`.breaker`, Sentinel's circuit breaker): open → weight 0, state ``ejected``
   (a gateway should send it nothing; ``breaker`` says it is the breaker, not an ejection);
   half-open → state ``active`` at the probe weight ``min_weight``; a passed probe closes it and the
   server climbs from ``min_weight`` in slow start. ``max_ejection_percent`` bounds ejections only,
   as in Envoy; breakers have no such bound, as in Sentinel: a server the cap keeps in is still cut
   by its own breaker, and when every server is cut gateways spread over all of them (panic routing).
4. **weight** (:mod:`.weights`): latency and failure rate against the set's medians, smoothed and
   limited per step, between ``min_weight`` and ``max_weight``.

One decision per server in ``loads``, plus one per absent server that is not serving (ejected,
breaker not closed, drained) or came back this evaluation: an ejected server gets no calls, so it
may vanish from the window, and gateways must still hear of it. Such servers stay in the state while
out and until their ejection multiplier has decayed to 0 (a flapping server keeps its growing
ejection time); an absent healthy server is forgotten. No loads: no upstream to name, no decision.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Sequence

from stackeye.core.config import setting
from stackeye.core.units import DURATION
from stackeye.decisions import breaker, outlier, weights
from stackeye.decisions.base import Policy
from stackeye.decisions.model import SOURCES, RoutingDecision, RoutingState, ServerLoad, ServerState

ACTIVE, EJECTED, DRAINED = "active", "ejected", "drained"


@dataclasses.dataclass(frozen=True)
class RoutingSettings:
    """One ``[routing.<upstream>]`` table."""

    source: str = setting("instances", "where the servers come from: instances (SERVER spans), peers "
                          "(callers' CLIENT spans), gateway (access logs)", choices=SOURCES)
    service: str = setting("", "the service whose servers make up the set (default: the table's key)")
    peers: tuple[str, ...] = setting((), "peers source: the set's host:port servers (default: the service's)")
    window: float = setting(30.0, "the window of calls each evaluation judges", unit=DURATION, positive=True)
    slow_call_ms: float = setting(1000.0, "a call slower than this (ms) is a slow call (breaker)", positive=True)
    max_weight: int = setting(100, "the weight of a server as good as its peers", positive=True)
    min_weight: int = setting(5, "the floor of a serving server's weight (so it is still measured), and the "
                                 "probe weight", minimum=1)
    smoothing: float = setting(0.5, "exponential smoothing of the weight (alpha: 1 jumps to the target)",
                               positive=True, maximum=1.0)
    max_step: int = setting(25, "the most a weight changes in one evaluation, either way", positive=True)
    min_requests: int = setting(20, "fewer calls in the window than this and a server keeps its weight",
                                minimum=1)
    latency_tolerance: float = setting(0.25, "latency (p95, else mean) up to this much above the set's median "
                                             "costs no weight (0.25: 25 %)", minimum=0.0)
    latency_floor_ms: float = setting(5.0, "latencies under this count as this when compared (differences among "
                                           "fast servers are noise)", minimum=0.0)
    latency_exponent: float = setting(3.0, "above the tolerance, weight falls as (tolerated / latency ratio) "
                                           "to this power", positive=True)
    consecutive_5xx: int = setting(5, "this many 5xx in a row eject a server (0: off)", minimum=0)
    failure_percentage_threshold: float = setting(
        20.0, "a server with at least this % of its calls failed is ejected (0: off; why not Envoy's: see "
              "stackeye.decisions.outlier)", minimum=0.0, maximum=100.0)
    failure_percentage_min_hosts: int = setting(1, "failure-percentage ejection needs this many servers with "
                                                   "the request volume", minimum=1)
    failure_percentage_request_volume: int = setting(50, "calls in the window a server needs for "
                                                         "failure-percentage ejection", minimum=1)
    success_rate_stdev_factor: float = setting(1.9, "success-rate ejection below mean − this × stdev", positive=True)
    success_rate_min_hosts: int = setting(5, "success-rate ejection needs this many servers with the "
                                             "request volume", minimum=1)
    success_rate_request_volume: int = setting(100, "calls in the window a server needs for success-rate "
                                                    "ejection", minimum=1)
    base_ejection_time: float = setting(30.0, "an ejection lasts this × the times ejected (at least the "
                                              "window)", unit=DURATION, positive=True)
    max_ejection_time: float = setting(300.0, "the longest ejection", unit=DURATION, positive=True)
    max_ejection_percent: float = setting(10.0, "at most this % of the servers ejected at once (always "
                                                "at least one)", minimum=0.0, maximum=100.0)
    decay_interval: float = setting(10.0, "the times-ejected multiplier falls by one per interval a "
                                          "server stays in", unit=DURATION, positive=True)
    slow_call_ratio: float = setting(0.5, "breaker: opens when more than this share of calls are slow "
                                          "(0: off)", minimum=0.0, maximum=1.0)
    error_ratio: float = setting(0.5, "breaker: opens when more than this share of calls failed (0: off)",
                                 minimum=0.0, maximum=1.0)
    error_count: int = setting(0, "breaker: opens when more than this many calls failed (0: off)", minimum=0)
    breaker_min_requests: int = setting(5, "breaker: fewer calls than this in the window never open it",
                                        minimum=1)
    breaker_open_time: float = setting(30.0, "breaker: how long it stays open before a probe (at least the "
                                             "window)", unit=DURATION, positive=True)


def validate(s: RoutingSettings) -> list[tuple[str, str]]:
    """Checks across fields, as (field, problem)."""
    out = []
    if s.min_weight > s.max_weight:
        out.append(("min_weight", f"must be at most max_weight ({s.max_weight}), got {s.min_weight}"))
    if s.max_ejection_time < s.base_ejection_time:
        out.append(("max_ejection_time", f"must be at least base_ejection_time ({s.base_ejection_time:g} s), "
                                         f"got {s.max_ejection_time:g} s"))
    why = "the calls judged after it must all come after it began: raise it or shorten the window"
    if s.base_ejection_time < s.window:
        out.append(("base_ejection_time", f"must be at least the window ({s.window:g} s), got "
                                          f"{s.base_ejection_time:g} s; {why}"))
    if s.breaker_open_time < s.window:
        out.append(("breaker_open_time", f"must be at least the window ({s.window:g} s), got "
                                         f"{s.breaker_open_time:g} s; {why}"))
    return out


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _clock(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%H:%M:%SZ")


def _kept(st: ServerState) -> bool:
    return st.drained or st.ejected_until > 0 or st.breaker != breaker.CLOSED or st.times_ejected > 0


def decide(loads: Sequence[ServerLoad], settings: RoutingSettings, state: RoutingState,
           now: dt.datetime) -> tuple[list[RoutingDecision], RoutingState]:
    t = now.timestamp()
    by_server = {ld.server: ld for ld in loads}
    servers = sorted(set(by_server) | {s for s, st in state.servers.items() if _kept(st)})
    fresh = ServerState(weight=float(settings.max_weight))
    cur = {s: state.servers.get(s, fresh) for s in servers}
    reasons: dict[str, str] = {}
    details: dict[str, dict] = {s: {} for s in servers}
    returned: set[str] = set()

    # ejections that are over, and the multiplier's decay
    for s, st in cur.items():
        if st.drained:
            continue
        if st.ejected_until > 0 and t >= st.ejected_until - 1e-9:
            st = dataclasses.replace(st, ejected_until=0.0, weight=float(settings.min_weight), slow_start=True,
                                     healthy_since=t, cause="")
            reasons[s] = (f"back after its {outlier.ordinal(st.times_ejected)} ejection: weight "
                          f"{settings.min_weight}, climbing by up to {settings.max_step} per evaluation")
            returned.add(s)
        elif st.ejected_until == 0:
            times, since = outlier.decay(st.times_ejected, st.healthy_since, t, settings)
            st = dataclasses.replace(st, times_ejected=times, healthy_since=since)
        cur[s] = st

    # outlier ejection over the servers serving
    serving = [by_server[s] for s in servers if s in by_server and not cur[s].drained and cur[s].ejected_until == 0]
    found = outlier.detect(serving, settings)
    out_now = sum(1 for st in cur.values() if st.ejected_until > 0 and not st.drained)
    admitted, refused = outlier.admit(found, out_now, len(servers), settings)
    for f in admitted:
        st = cur[f.server]
        times = st.times_ejected + 1
        secs = outlier.ejection_seconds(times, settings)
        cur[f.server] = dataclasses.replace(st, ejected_until=t + secs, times_ejected=times, cause=f.why,
                                            breaker=breaker.CLOSED, breaker_since=t, slow_start=False)
        reasons[f.server] = f"{f.why}: ejected for {secs:g} s ({outlier.ordinal(times)} time)"
        details[f.server] |= {"rule": f.rule, **f.detail}
    for f in refused:
        details[f.server] |= {"rule_refused": f.rule, **f.detail}
        reasons[f.server] = (f"{f.why}, but {len(admitted) + out_now} of {len(servers)} servers are out already "
                             f"(max_ejection_percent {settings.max_ejection_percent:g} %)")

    # breakers of the servers not ejected
    for s in servers:
        st = cur[s]
        if st.drained or st.ejected_until > 0:
            continue
        v = breaker.evaluate(st.breaker, st.breaker_since, by_server.get(s), settings, t)
        details[s] |= {k: v_ for k, v_ in v.detail.items() if k != "open_until"}
        if v.breaker == breaker.OPEN:
            details[s]["breaker_open_until"] = _iso(v.since + settings.breaker_open_time)
        if v.why:
            reasons[s] = v.why if s not in reasons else f"{reasons[s]}; {v.why}"
        st = dataclasses.replace(st, breaker=v.breaker, breaker_since=v.since)
        if v.cause:
            st = dataclasses.replace(st, cause=v.cause)
        elif v.breaker != breaker.OPEN and st.breaker_since == t:  # half-open now, or closed by a probe
            st = dataclasses.replace(st, weight=float(settings.min_weight), slow_start=True, cause="")
        cur[s] = st

    # weights of the servers serving with a closed breaker
    stats = weights.set_stats([by_server[s] for s in servers if s in by_server and not cur[s].drained
                               and cur[s].ejected_until == 0 and cur[s].breaker != breaker.OPEN],
                              settings.min_requests)
    for s in servers:
        st, load = cur[s], by_server.get(s)
        if st.drained or st.ejected_until > 0 or st.breaker != breaker.CLOSED or s in returned or load is None:
            continue
        before = st.weight
        goal = weights.target(load, stats, before, settings)
        if goal.measured:
            after, slow_start = weights.step(before, goal.weight, settings), False
        elif st.slow_start:
            after = weights.slow_start_step(before, settings)
            slow_start = after < settings.max_weight
        else:
            after, slow_start = before, False
        cur[s] = dataclasses.replace(st, weight=after, slow_start=slow_start)
        text = weights.explain(load, stats, goal, before, after, settings)
        reasons[s] = f"{reasons[s]}; {text}" if s in reasons else text
        details[s] |= {"target_weight": round(goal.weight, 2), "weight_before": round(before, 2),
                       "latency_ratio": None if goal.latency_ratio is None else round(goal.latency_ratio, 3),
                       "latency_factor": round(goal.latency_factor, 4),
                       "failure_factor": round(goal.failure_factor, 4)}

    decisions = []
    upstream = loads[0].upstream if loads else ""
    for s in servers:
        st, load = cur[s], by_server.get(s)
        d = _decision(upstream, s, now, st, load, stats, settings, reasons.get(s, ""), details[s])
        if loads and (load is not None or d.state != ACTIVE or d.breaker != breaker.CLOSED or s in returned):
            decisions.append(d)
    kept = {s: st for s, st in cur.items() if s in by_server or _kept(st)}
    return decisions, RoutingState(kept)


def _decision(upstream: str, server: str, now: dt.datetime, st: ServerState, load: ServerLoad | None,
              stats: weights.SetStats, settings: RoutingSettings, reason: str, detail: dict) -> RoutingDecision:
    if st.drained:
        state, weight, reason = DRAINED, 0, "drained by an operator: weight 0"
    elif st.ejected_until > 0:
        state, weight = EJECTED, 0
        reason = reason or (f"ejected until {_clock(st.ejected_until)} ({st.cause}; "
                            f"{outlier.ordinal(st.times_ejected)} time)")
    elif st.breaker == breaker.OPEN:
        state, weight = EJECTED, 0
        reason = reason or (f"breaker open until {_clock(st.breaker_since + settings.breaker_open_time)} "
                            f"({st.cause})")
    else:
        state, weight = ACTIVE, int(round(st.weight))
        if st.breaker == breaker.HALF_OPEN:
            weight = settings.min_weight
            reason = (f"{reason}: probing at weight {weight}" if reason
                      else f"breaker half-open: waiting for probe calls at weight {weight}")
        elif not reason:
            reason = f"no calls in the window: weight {weight} kept"
    numbers = {"requests": load.requests if load else 0, "errors": load.errors if load else 0,
               "success_rate": round(1 - load.errors / load.requests, 6) if load and load.requests else None,
               "latency_ms": weights.latency_ms(load) if load else None,
               "median_latency_ms": stats.median_latency_ms, "median_failure_rate": stats.median_failure_rate,
               "times_ejected": st.times_ejected,
               "ejected_until": _iso(st.ejected_until) if st.ejected_until > 0 else None}
    return RoutingDecision(upstream, server, now, weight, state, st.breaker, reason, numbers | detail)


POLICY = Policy(
    name="routing",
    summary="weights from latency and failures against the set's median, Envoy's outlier ejection and "
            "Sentinel's circuit breaker, on every caller's calls pooled",
    settings=RoutingSettings,
    state_type=RoutingState,
    decide=decide,
    validate=validate,
    key_noun="upstream",
)
