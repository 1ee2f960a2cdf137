"""Who decides each step of a simulation, and what a decision changes in the simulated fleet.

A controller has ``name``, ``interval_s`` (how often it decides), ``observe(tick)`` (it sees every
tick of traffic: the pipeline controller turns it into spans, the baselines into their own metrics)
and ``decide(now) -> Control``. :class:`PolicyOnAggregates` runs a stackeye policy (the registered
``POLICY.decide``, pure) on the simulator's own aggregates; :mod:`.pipeline` runs it through
OTLP → storage → the Evaluator; :mod:`.baselines` are HPA and Envoy.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from stackeye.decisions import registry
from stackeye.decisions.simulate.aggregate import Window
from stackeye.decisions.simulate.fleet import Tick
from stackeye.decisions.simulate.scenarios import Scenario

INTERVALS = {"autoscale": 15.0, "routing": 5.0}  # how often stackeye decides: HPA's sync period; the routing scheduler's


@dataclasses.dataclass(frozen=True)
class Control:
    """What a decision sets: replicas (autoscale), weights per proxy index (``None``: every proxy)."""

    replicas: int | None = None
    weights: dict | None = None
    note: str = ""
    decisions: tuple = ()  # the policy's decisions as they came (for the timeline and the comparisons)


def control_from(kind: str, decisions: list) -> Control:
    """Turn a stackeye policy's decisions into what the simulated fleet applies."""
    if kind == "autoscale":
        if not decisions:
            return Control(note="no decision (no input rows)")
        d = decisions[0]
        return Control(replicas=d.desired_replicas, note=f"{d.limiting_target}: {d.reason}", decisions=tuple(decisions))
    weights = {d.server: float(d.weight) if d.state == "active" else 0.0 for d in decisions}
    off = [f"{d.server} {d.state}" for d in decisions if d.state != "active" or d.breaker != "closed"]
    return Control(weights={None: weights} if weights else None, note="; ".join(off) or "all active",
                   decisions=tuple(decisions))


def decision_key(kind: str, control: Control):
    """What two runs must agree on for 'the same decisions': replicas, or each server's weight and state."""
    if kind == "autoscale":
        return control.replicas
    return tuple(sorted((d.server, d.weight, d.state) for d in control.decisions))


class PolicyOnAggregates:
    """stackeye's policy of ``scenario.kind``, fed the simulator's aggregates over its input window."""

    def __init__(self, scenario: Scenario, settings, window_s: float, epoch: dt.datetime,
                 interval_s: float | None = None):
        self.scenario, self.settings, self.epoch = scenario, settings, epoch
        self.kind = scenario.kind
        self.name = f"stackeye-{self.kind}"
        self.policy = registry.get(self.kind)
        self.state = self.policy.state_type()
        self.window = Window(window_s)
        self.interval_s = interval_s or INTERVALS[self.kind]

    def observe(self, tick: Tick) -> None:
        self.window.add(tick)

    def inputs(self, now: float):
        at = self.epoch + dt.timedelta(seconds=now)
        if self.kind == "autoscale":
            return self.window.service_load(self.scenario.service, at)
        return self.window.server_loads(self.scenario.service, float(self.settings.slow_call_ms))

    def decide(self, now: float) -> Control:
        at = self.epoch + dt.timedelta(seconds=now)
        decisions, self.state = self.policy.decide(self.inputs(now), self.settings, self.state, at)
        return control_from(self.kind, list(decisions))
