#!/usr/bin/env python3
"""Decision quality: stackeye's policies against HPA on CPU and Envoy's per-proxy outlier detection.

    python bench/decisions.py                      # the four scenarios + the pipeline check (~2 min)
    python bench/decisions.py --pipeline-duration 5m

One run of the simulator (``stackeye.decisions.simulate``) per scenario and controller, the same
seed and so the same requests for every controller: ``diurnal`` (24 h), ``spike``, ``slow-instance``,
``failing-instance``. The 24 h day is decided off the simulator's own aggregates (through chDB it
would take far more than a few minutes here); so are the others, for the table. Then one scenario
(``spike``, shortened) runs through the real pipeline with ``stackeye decide simulate`` and its
decisions are compared, step by step, with the aggregates path on the same traffic.

Reported per run: SLO-violation minutes (ticks whose p95 is over the SLO), replica-minutes, failed
requests, and for the routing scenarios the seconds from the instance turning bad to it getting
under a tenth of its fair share. Goals (issue 10): fewer SLO-violation minutes than HPA-CPU with no
more replica-minutes; a bad instance drained within 30 s with ≤ 1 % of requests failed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine, save, table  # noqa: E402
from stackeye.core.units import parse_duration  # noqa: E402
from stackeye.decisions.simulate import scenarios  # noqa: E402
from stackeye.decisions.simulate.baselines import EnvoyOutlier, HpaCpu  # noqa: E402
from stackeye.decisions.simulate.controllers import PolicyOnAggregates  # noqa: E402
from stackeye.decisions.simulate.policies import load_policy  # noqa: E402
from stackeye.decisions.simulate.run import sim_epoch, simulate  # noqa: E402

SCENARIOS = ["diurnal", "spike", "slow-instance", "failing-instance"]
DRAIN_GOAL_S, FAILED_GOAL_PCT = 30.0, 1.0


def run_scenario(name: str, seed: int) -> list[dict]:
    s = scenarios.get(name)
    policy = load_policy(s, None)
    baseline = HpaCpu(s) if s.kind == "autoscale" else EnvoyOutlier(s)
    out = []
    for controller in (PolicyOnAggregates(s, policy.settings, policy.window_s, sim_epoch(s)), baseline):
        started = time.monotonic()
        scores = simulate(s, controller, seed).scores()
        scores["wall_s"] = round(time.monotonic() - started, 1)
        out.append(scores)
        print(f"  {name:17} {controller.name:17} {scores}", flush=True)
    return out


def goals(results: list[dict]) -> list[str]:
    lines = []
    by = {(r["scenario"], r["controller"]): r for r in results}
    for name in ("diurnal", "spike"):
        ours, hpa = by[(name, "stackeye-autoscale")], by[(name, "hpa-cpu")]
        ok = ours["slo_violation_min"] < hpa["slo_violation_min"] and ours["replica_min"] <= hpa["replica_min"]
        lines.append(f"{name}: SLO-violation min {ours['slo_violation_min']} vs HPA {hpa['slo_violation_min']}, "
                     f"replica-min {ours['replica_min']} vs {hpa['replica_min']}: {'met' if ok else 'NOT met'}")
    for name in ("slow-instance", "failing-instance"):
        ours = by[(name, "stackeye-routing")]
        drain = ours.get("drain_s")
        ok = drain is not None and drain <= DRAIN_GOAL_S and ours["failed_pct"] <= FAILED_GOAL_PCT
        lines.append(f"{name}: drained in {drain} s, {ours['failed_pct']} % failed: {'met' if ok else 'NOT met'}")
    return lines


def pipeline_check(name: str, duration_s: float, seed: int) -> dict:
    """The same scenario through `stackeye decide simulate` (OTLP → chDB → Evaluator) and off the aggregates."""
    s = scenarios.get(name, duration_s)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "pipeline.json")
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "stackeye.cli.main", "--log-level", "warning", "decide",
                               "simulate", "--scenario", name, "--duration", f"{duration_s:g}s", "--seed", str(seed),
                               "--out", out, "--quiet", "--format", "json"], capture_output=True, text=True)
        wall = time.monotonic() - started
        if done.returncode:
            raise SystemExit(f"stackeye decide simulate failed:\n{done.stderr[-3000:]}")
        with open(out) as f:
            doc = json.load(f)
    piped = [d["replicas"] if s.kind == "autoscale" else d["weights"] for d in doc["decisions"]]
    policy = load_policy(s, None)
    timeline = simulate(s, PolicyOnAggregates(s, policy.settings, policy.window_s, sim_epoch(s)), seed)
    direct = [c.replicas if s.kind == "autoscale" else _weights(c.weights) for _, c in timeline.decisions]
    same = sum(1 for a, b in zip(piped, direct) if a == b)
    first_diff = next((i for i, (a, b) in enumerate(zip(piped, direct)) if a != b), None)
    return {"scenario": name, "duration_s": duration_s, "decisions": len(direct), "same": same,
            "first_difference": None if first_diff is None else {"t": timeline.decisions[first_diff][0],
                                                                 "pipeline": piped[first_diff],
                                                                 "aggregates": direct[first_diff]},
            "pipeline_wall_s": round(wall, 1), "pipeline_scores": doc["scores"], "aggregate_scores": timeline.scores()}


def _weights(weights):
    return None if weights is None else {"all" if p is None else str(p): w for p, w in weights.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scenario", action="append", choices=SCENARIOS, help="only these (repeatable)")
    parser.add_argument("--pipeline-scenario", default="spike", choices=SCENARIOS)
    parser.add_argument("--pipeline-duration", default="6m", help="simulated time through the pipeline (default 6m)")
    parser.add_argument("--no-pipeline", action="store_true", help="skip the pipeline check")
    args = parser.parse_args()
    doc = {"machine": machine(), "seed": args.seed, "results": []}
    print("decision quality (same traffic per scenario for every controller):")
    for name in args.scenario or SCENARIOS:
        doc["results"] += run_scenario(name, args.seed)
    print()
    print(table(doc["results"]))
    if not args.scenario:
        doc["goals"] = goals(doc["results"])
        print("\n" + "\n".join(doc["goals"]))
    if not args.no_pipeline:
        check = pipeline_check(args.pipeline_scenario, parse_duration(args.pipeline_duration), args.seed)
        doc["pipeline_check"] = check
        print(f"\nthrough the pipeline ({check['scenario']}, {check['duration_s']:g} s simulated, "
              f"{check['pipeline_wall_s']} s wall): {check['same']} of {check['decisions']} decisions the same as "
              f"off the aggregates" + (f"; first difference {check['first_difference']}" if check["first_difference"]
                                       else ""))
    print(f"\nsaved {save('decisions', doc)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
