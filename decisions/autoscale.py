"""Decision policy ``autoscale``: how many replicas each service needs, and why.

Each ``[autoscale.<service>]`` table names the targets that matter for the service; every target
recommends a replica count and the largest wins, as in Kubernetes' HPA (:mod:`.hpa` has its
arithmetic and the rules it follows: tolerance, missing metrics, stabilization windows, step
policies, bounds):

- ``cpu_pct`` — mean CPU per replica (process metrics from ``stackeye.instrumentation`` or the
  agent), % of one core; the target used when a table names none (60 %);
- ``rps_per_replica`` — requests/s each replica should serve (entry spans);
- ``latency_p95_ms`` / ``latency_p99_ms`` — an SLO on the service's latency quantile. Not HPA's
  ratio: each replica is taken as an M/M/c queue whose service time is fitted to the observed
  rate, replicas and quantile, and the recommendation is the fewest replicas whose predicted
  quantile is within the SLO less the tolerance (:mod:`.queueing`); a scale-down must meet it with
  the margin twice over, so the count does not swing around the SLO. When the service time alone
  exceeds the SLO the target says that more replicas will not help, and asks only for the fewest
  that get within the tolerance of the best the service can do. A saturated fleet (fitted
  utilization above 90 %) has a latency that is backlog and a demand it cannot show: the target
  asks for twice the replicas (the step limits apply) and sizes from the latency once out of it;
- ``kafka_lag_per_replica`` — messages behind per replica for the consumer group ``kafka_group``;
- the **forecast** — the growth from now to ``forecast_lead`` ahead on previous days at the same time
  (:mod:`.forecast`) times what the load-based targets ask, so a daily ramp is met early.

Current replicas are the live instances (distinct ``service.instance.id`` that served requests) in
the window. With none, the last decision stands (or ``min_replicas``; a Kafka backlog asks for one).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math

from stackeye.core.config import setting
from stackeye.core.units import DURATION
from stackeye.decisions import forecast, hpa, queueing
from stackeye.decisions.base import Policy
from stackeye.decisions.model import AutoscaleDecision, AutoscaleState, Recommendation, ServiceLoad

DEFAULT_CPU_PCT = 60.0
SATURATED = 0.9  # fitted utilization above which the latency is taken as backlog
SATURATED_GROWTH = 2.0  # what a saturated fleet asks for (the step limits still apply)


@dataclasses.dataclass(frozen=True)
class AutoscaleSettings:
    window: float = setting(60.0, "the input window: load, latency and CPU are measured over it", unit=DURATION,
                            positive=True)
    min_replicas: int = setting(1, "fewest replicas (0 lets an idle service scale to zero)", minimum=0)
    max_replicas: int = setting(10, "most replicas", positive=True)
    cpu_pct: float = setting(0.0, "target mean CPU per replica, % of one core (when no target is set: "
                                  f"{DEFAULT_CPU_PCT:g})", positive=True, example=60.0)
    rps_per_replica: float = setting(0.0, "target requests/s per replica (unset: not a target)", positive=True,
                                     example=50.0)
    latency_p95_ms: float = setting(0.0, "SLO on the service's p95 latency in ms, sized by the queueing model "
                                         "(unset: not a target)", positive=True, example=250.0)
    latency_p99_ms: float = setting(0.0, "SLO on the service's p99 latency in ms (unset: not a target)",
                                    positive=True, example=500.0)
    concurrency: int = setting(1, "requests one replica serves at once (its workers × threads), for the "
                                  "queueing model", positive=True)
    kafka_group: str = setting("", "the Kafka consumer group the service consumes with")
    kafka_lag_per_replica: float = setting(0.0, "target messages behind per replica for kafka_group "
                                                "(unset: not a target)", positive=True, example=1000.0)
    tolerance: float = setting(0.1, "no change while observed/target is within this of 1", minimum=0.0,
                               maximum=0.9)
    scale_up_stabilization: float = setting(0.0, "scale up to the lowest recommendation of this window",
                                            unit=DURATION, minimum=0.0)
    scale_down_stabilization: float = setting(300.0, "scale down only to the highest recommendation of this "
                                                     "window", unit=DURATION, minimum=0.0)
    scale_up_percent: float = setting(100.0, "add at most this % of the replicas per scale_up_period (or "
                                             "scale_up_pods, whichever allows more)", positive=True)
    scale_up_pods: int = setting(4, "add at most this many replicas per scale_up_period (or scale_up_percent)",
                                 positive=True)
    scale_up_period: float = setting(15.0, "the period of the scale-up limits", unit=DURATION, positive=True)
    scale_down_percent: float = setting(100.0, "remove at most this % of the replicas per scale_down_period",
                                        positive=True, maximum=100.0)
    scale_down_period: float = setting(15.0, "the period of the scale-down limit", unit=DURATION, positive=True)
    forecast: bool = setting(True, "scale ahead of the growth seen at this time on previous days")
    forecast_lead: float = setting(600.0, "how far ahead the forecast looks (a replica's start-up time and "
                                          "more)", unit=DURATION, positive=True)
    forecast_min_days: int = setting(1, "previous days with traffic the forecast needs", positive=True)

    def targets(self) -> dict[str, float]:
        named = {"cpu": self.cpu_pct, "rps": self.rps_per_replica, "latency_p95": self.latency_p95_ms,
                 "latency_p99": self.latency_p99_ms, "kafka_lag": self.kafka_lag_per_replica}
        named = {k: v for k, v in named.items() if v > 0}
        return named or {"cpu": DEFAULT_CPU_PCT}


def validate(s: AutoscaleSettings) -> list[tuple[str, str]]:
    problems = []
    if s.min_replicas > s.max_replicas:
        problems.append(("max_replicas", f"must be at least min_replicas ({s.min_replicas}), got {s.max_replicas}"))
    if s.kafka_lag_per_replica > 0 and not s.kafka_group:
        problems.append(("kafka_group", "kafka_lag_per_replica needs the consumer group whose lag it targets"))
    if s.kafka_group and not s.kafka_lag_per_replica > 0:
        problems.append(("kafka_lag_per_replica", f"kafka_group {s.kafka_group!r} is read only for this target; "
                                                  "set the messages behind each replica may have"))
    return problems


def _latency(load: ServiceLoad, s: AutoscaleSettings, name: str, slo: float) -> Recommendation:
    q = 0.95 if name == "latency_p95" else 0.99
    observed = load.p95_ms if q == 0.95 else load.p99_ms
    if observed is None or observed <= 0 or load.requests == 0:
        return Recommendation(name, observed, slo, None, "no latency in the window")
    current, rate = load.current_replicas, load.rps
    model = queueing.fit(rate, current, s.concurrency, load.mean_ms, observed, q)
    fitted = f"fitted service time {model.busy_s * 1000:.0f} ms at {rate:.1f} req/s"
    if model.utilization(rate, current) > SATURATED:
        # a saturated fleet's latency is its backlog, not a steady queue, and says nothing of the service
        # time: ask for what takes it out of saturation, and size from the latency once it is out
        n = math.ceil(current * SATURATED_GROWTH)
        return Recommendation(name, observed, slo, n, f"saturated at {rate:.1f} req/s over {current} replicas: its "
                                                      f"latency is backlog, the demand unknown; {n} replicas to find it")
    aim = slo * (1 - s.tolerance)
    most = max(s.max_replicas, current)
    floor = model.floor_ms(q)
    if floor > aim:
        best = floor * (1 + s.tolerance)
        n = queueing.replicas_for(model, rate, best, q, most) or most
        return Recommendation(name, observed, slo, n,
                              f"{fitted}: its own p{round(q * 100)} is {floor:.0f} ms, more replicas cannot meet "
                              f"{slo:g} ms (the time is in the service, not in its queue); {n} get within "
                              f"{s.tolerance:.0%} of that")
    if aim * (1 - s.tolerance) <= observed <= aim:  # just inside the SLO less its margin: hold
        return Recommendation(name, observed, slo, current, f"{fitted}: within tolerance of the SLO")
    n = queueing.replicas_for(model, rate, aim, q, most)
    if n is None:
        return Recommendation(name, observed, slo, most, f"{fitted}: even {most} replicas miss {aim:.0f} ms")
    if n < current:  # fewer replicas must meet the SLO with the margin twice over (hysteresis)
        aim = aim * (1 - s.tolerance)
        n = min(current, queueing.replicas_for(model, rate, aim, q, most) or current)
    predicted = model.quantile_ms(rate, n, q)
    return Recommendation(name, observed, slo, n, f"{fitted}: {n} replicas predict {predicted:.0f} ms "
                                                  f"(aiming at {aim:.0f} ms)")


def recommendations(load: ServiceLoad, s: AutoscaleSettings) -> list[Recommendation]:
    """What each target asks for (``desired`` None: its metric is missing)."""
    current, out = load.current_replicas, []
    for name, goal in s.targets().items():
        if name == "cpu":
            values = [i.cpu_pct for i in load.instances]
            known = [v for v in values if v is not None]
            desired, note = hpa.per_replica(values, goal, s.tolerance, full=100.0)
            out.append(Recommendation("cpu", sum(known) / len(known) if known else None, goal, desired, note))
        elif name == "rps":
            desired, note = hpa.average_value(load.rps, current, goal, s.tolerance)
            out.append(Recommendation("rps", load.rps / current, goal, desired, note))
        elif name == "kafka_lag":
            desired, note = hpa.average_value(load.kafka_lag, current, goal, s.tolerance)
            out.append(Recommendation("kafka_lag", None if load.kafka_lag is None else load.kafka_lag / current,
                                      goal, desired, note))
        else:
            out.append(_latency(load, s, name, goal))
    if s.forecast and load.history:
        known = [r.desired for r in out if r.desired is not None]
        g = forecast.growth(load.at, load.history, s.forecast_lead, s.forecast_min_days)
        if known and g is not None and g > 1 + s.tolerance:
            out.append(Recommendation("forecast", round(g, 3), 1.0, math.ceil(max(known) * g),
                                      f"previous days grew {g:.2f}× over the next {s.forecast_lead / 60:g} min"))
    return out


def _asked(load: ServiceLoad, s: AutoscaleSettings, state: AutoscaleState, t: float) -> int:
    """The replica count HPA calls current: the one last asked for when that was recent (replicas
    still starting serve nothing yet, and must not be taken back), else the live ones."""
    recent = state.recommendations and state.recommendations[-1][0] > t - max(s.scale_down_stabilization, 60.0)
    if recent and state.last_desired is not None:
        return max(load.current_replicas, state.last_desired)
    return load.current_replicas


def _no_instances(load: ServiceLoad, s: AutoscaleSettings, state: AutoscaleState) -> tuple[int, str]:
    if state.last_desired is not None:
        desired = state.last_desired
        why = f"no replica served requests in the last {s.window:g}s: the last decision ({desired}) stands"
    else:
        desired = s.min_replicas
        why = f"no replica served requests in the last {s.window:g}s: min_replicas ({desired})"
    if desired == 0 and (load.kafka_lag or 0) > 0:
        return 1, f"no replica, {load.kafka_lag:g} messages waiting for group {s.kafka_group}: one replica"
    return min(max(desired, s.min_replicas), s.max_replicas), why


def _phrase(r: Recommendation) -> str:
    if r.target == "forecast":
        return f"forecast: {r.note}, asking {r.desired}"
    if r.target.startswith("latency"):
        return (f"{r.target.replace('_', ' ')} {r.observed:.0f} ms against an SLO of {r.goal:g} ms ({r.note}) "
                f"asks {r.desired}")
    observed = {"cpu": f"CPU {r.observed:.0f}% per replica against a target of {r.goal:g}%",
                "rps": f"{r.observed:.1f} req/s per replica against a target of {r.goal:g}",
                "kafka_lag": f"{r.observed:.0f} messages behind per replica against a target of {r.goal:g}"}[r.target]
    return f"{observed} asks {r.desired}"


def decide(load: ServiceLoad, s: AutoscaleSettings, state: AutoscaleState, now: dt.datetime):
    t = now.timestamp()
    current = load.current_replicas
    applied = {"window_s": s.window, "tolerance": s.tolerance, "min_replicas": s.min_replicas,
               "max_replicas": s.max_replicas, "scale_up_stabilization_s": s.scale_up_stabilization,
               "scale_down_stabilization_s": s.scale_down_stabilization}
    if current == 0:
        desired, reason = _no_instances(load, s, state)
        decision = AutoscaleDecision(load.service, now, 0, desired, "no_instances", reason, (), applied)
        return [decision], dataclasses.replace(state, last_desired=desired)
    recs = recommendations(load, s)
    base = _asked(load, s, state, t)
    raw, winner = hpa.combine(base, [(r.target, r.desired) for r in recs])
    stabilized = hpa.stabilize(raw, base, state.recommendations, t, s.scale_up_stabilization,
                               s.scale_down_stabilization)
    up = (hpa.Step("percent", s.scale_up_percent, s.scale_up_period), hpa.Step("pods", s.scale_up_pods, s.scale_up_period))
    down = (hpa.Step("percent", s.scale_down_percent, s.scale_down_period),)
    limited, step = hpa.limit_rate(stabilized, base, state.scale_events, t, up, down)
    desired = min(max(limited, s.min_replicas), s.max_replicas)
    applied.update(raw_desired=raw, stabilized=stabilized, step_limit=step or None, asked_replicas=base)

    by_name = {r.target: r for r in recs}
    if desired != limited:
        limiting = "max_replicas" if desired == s.max_replicas else "min_replicas"
        rule = f"held at {limiting} {desired}"
    elif step:
        limiting, rule = "step_limit", f"{step} allows {limited}"
    elif stabilized != raw:
        limiting = "stabilization"
        window = s.scale_down_stabilization if stabilized > raw else s.scale_up_stabilization
        seen = [r for ts, r in state.recommendations if ts > t - window] + [raw]
        rule = f"the last {window:g}s recommended up to {max(seen)}, so no scale-down below {stabilized}" \
            if stabilized > raw else f"the last {window:g}s recommended as few as {min(seen)}, so no more than {stabilized}"
    elif winner in by_name and by_name[winner].desired == base and "tolerance" in by_name[winner].note:
        limiting, rule = "tolerance", "within tolerance"
    else:
        limiting, rule = winner, ""
    lead = _phrase(by_name[winner]) if winner in by_name else \
        ("a target's metric is missing, so no scale-down" if winner == "missing_metrics" else "no target has a metric")
    action = f"scale up {current} → {desired}" if desired > current else \
        f"scale down {current} → {desired}" if desired < current else f"stay at {current}"
    if base > current:
        action += f" ({base - current} of the {base} asked for not serving yet)"
    reason = f"{lead}; {rule}: {action}" if rule else f"{lead}: {action}"

    keep = max(s.scale_up_stabilization, s.scale_down_stabilization)
    period = max(s.scale_up_period, s.scale_down_period)
    new_state = AutoscaleState(
        recommendations=tuple((ts, r) for ts, r in state.recommendations if ts > t - keep) + ((t, raw),),
        scale_events=tuple((ts, d) for ts, d in state.scale_events if ts > t - period)
        + (((t, desired - base),) if desired != base else ()),
        last_desired=desired)
    decision = AutoscaleDecision(load.service, now, current, desired, limiting, reason, tuple(recs), applied)
    return [decision], new_state


POLICY = Policy(
    name="autoscale",
    summary="replicas per service from CPU, requests/s, a latency SLO (queueing model) and Kafka lag, "
            "with HPA's tolerance, stabilization and step limits and a forecast from previous days",
    settings=AutoscaleSettings,
    state_type=AutoscaleState,
    decide=decide,
    validate=validate,
    key_noun="service",
)
