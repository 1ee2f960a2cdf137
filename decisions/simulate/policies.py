"""The policy a simulation runs: the scenario's own (printed by ``--print-policy``) or a file's table.

A scenario's default policy is an ordinary policy file: ``[autoscale.checkout]`` with the fleet's
bounds and the scenario's latency SLO for the autoscale scenarios, ``[routing.checkout]`` on the
``instances`` source for the routing ones. A ``--policy`` file must have the table the scenario
needs (the error names it). The same settings drive both paths: the Evaluator reading the
pipeline's rows, and the policy fed the simulator's aggregates over the settings' window.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile

from stackeye.core.config import ConfigError
from stackeye.decisions import policy_file
from stackeye.decisions.simulate.scenarios import Scenario


@dataclasses.dataclass(frozen=True)
class SimPolicy:
    file: policy_file.PolicyFile
    kind: str
    key: str
    settings: object

    @property
    def window_s(self) -> float:
        return float(self.settings.window)


def default_policy_text(scenario: Scenario) -> str:
    s = scenario
    if s.kind == "autoscale":
        return (f"# stackeye decide simulate --scenario {s.name}: the policy it runs unless --policy is given\n"
                f"[autoscale.{s.service}]\n"
                f"min_replicas = {s.min_replicas}\n"
                f"max_replicas = {s.max_replicas}\n"
                f"window = \"30s\"\n"
                f"cpu_pct = 60\n"
                f"latency_p95_ms = {s.slo_p95_ms:g}\n"
                f"concurrency = {s.replica.workers}  # requests a replica serves at once (its workers)\n"
                f"# shorter than HPA's 300 s: a scale-down the latency model predicts to keep the SLO need not wait as long\n"
                f"scale_down_stabilization = \"2m\"\n")
    return (f"# stackeye decide simulate --scenario {s.name}: the policy it runs unless --policy is given\n"
            f"[routing.{s.service}]\n"
            f"source = \"instances\"\n"
            f"slow_call_ms = {s.slo_p95_ms:g}\n")


def load_policy(scenario: Scenario, path: str | None) -> SimPolicy:
    """The scenario's table of the policy file at ``path`` (default: the scenario's own policy)."""
    if path is None:
        with tempfile.TemporaryDirectory() as tmp:
            own = os.path.join(tmp, f"{scenario.name}.toml")
            with open(own, "w") as f:
                f.write(default_policy_text(scenario))
            file = policy_file.load(own)
        file = dataclasses.replace(file, path="")
    else:
        file = policy_file.load(path)
    if scenario.service not in file.keys(scenario.kind):
        raise ConfigError("policy", f"{path} has no [{scenario.kind}.{scenario.service}] table, which scenario "
                                    f"{scenario.name} needs; see `stackeye decide simulate --scenario {scenario.name} "
                                    "--print-policy`", where="--policy")
    return SimPolicy(file, scenario.kind, scenario.service, file.settings(scenario.kind, scenario.service))


def evaluator_for(storage, policy: SimPolicy, scenario: Scenario):
    """``evaluate(at) -> decisions``: the Evaluator over what the pipeline stored, recording each
    decision and state in ``stackeye_decisions`` as the scheduler does (the simulation's storage is
    its own), so the next step continues from it."""
    from stackeye.decisions.evaluate import Evaluator

    evaluator = Evaluator(storage, policy.file)
    if scenario.kind == "autoscale":
        return lambda at: evaluator.autoscale(scenario.service, at=at, persist=True)
    return lambda at: evaluator.routing(scenario.service, at=at, persist=True)
