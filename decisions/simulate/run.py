"""The simulation loop: tick the fleet, show each tick to the controller, apply its decisions.

Every ``controller.interval_s`` the controller decides as of the end of the last tick; an autoscale
decision sets the replica count (new replicas go live after the start-up delay), a routing decision
the weights the proxies use from the next tick on.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable

from stackeye.decisions.simulate.fleet import Fleet
from stackeye.decisions.simulate.scenarios import Scenario
from stackeye.decisions.simulate.timeline import Row, Timeline


def simulate(scenario: Scenario, controller, seed: int = 1,
             progress: Callable[[Row, float], None] | None = None) -> Timeline:
    """Run ``scenario`` under ``controller``; ``progress(row, fraction_done)`` after each decision."""
    fleet = Fleet(scenario, seed)
    timeline = Timeline(scenario, controller.name)
    weights = None
    t, next_decision = 0.0, controller.interval_s
    while t < scenario.duration_s - 1e-9:
        tick = fleet.tick(t, weights)
        controller.observe(tick)
        row = timeline.add(tick, fleet.bad_instance if scenario.kind == "routing" else None)
        t = tick.t0 + tick.dt
        if t >= next_decision - 1e-9:
            control = controller.decide(t)
            if control.replicas is not None and scenario.kind == "autoscale":
                fleet.scale(control.replicas, t)
            if control.weights is not None:
                weights = control.weights
            row.note = control.note
            timeline.decisions.append((t, control))
            next_decision += controller.interval_s
            if progress:
                progress(row, t / scenario.duration_s)
    return timeline


def sim_epoch(scenario: Scenario) -> dt.datetime:
    """The wall-clock instant simulated time 0 maps to: one scenario-length (rounded up to the minute,
    plus two) before now, so that every span is in the past and inside the retention."""
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    return now - dt.timedelta(seconds=60 * (int(scenario.duration_s // 60) + 2))
