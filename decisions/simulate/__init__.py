"""Synthetic traffic for the decision policies: a load curve, a queueing model per replica, a router.

- :mod:`.scenarios` — the named scenarios (``diurnal``, ``spike``, ``slow-instance``,
  ``failing-instance``): load curve, fleet, what goes wrong and when;
- :mod:`.fleet` — the replicas: start-up delay, M/M/c-like queueing (utilization → latency,
  CPU % = utilization), failures; one tick of simulated time gives every request's latency and status;
- :mod:`.router` — requests spread over the live replicas by weights, per proxy;
- :mod:`.aggregate` — the simulator's own windowed aggregates as the policies' input rows;
- :mod:`.controllers` — who decides each step: stackeye's policies (off the aggregates or through the
  real pipeline, :mod:`.pipeline`) or the baselines (:mod:`.baselines`: HPA on CPU, Envoy's outlier
  detection per proxy);
- :mod:`.run` — the loop (tick the fleet, let the controller decide, apply) and its timeline
  (:mod:`.timeline`: the printed/JSON rows and the scores the bench reports).

Everything is deterministic given the seed: the arrivals come from their own random stream, so every
controller sees the same traffic.
"""
