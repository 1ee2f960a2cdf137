"""The Evaluator over stored history with its state kept in memory: what a backtest steps through.

A backtest must not write (``stackeye_decisions`` is the live scheduler's history) yet must carry
the policy's state from one step to the next — stabilization windows, ejections, breakers — as the
scheduler would have. :class:`MemoryStore` is the decision store's interface (``record``,
``states_at``, ``state_at``, ``last_decisions``) in a dict: the Evaluator, unchanged, records each
step's state there and reads it back at the next step. The replay starts from no state (the
policy's initial one), like a policy deployed at ``--from``.
"""
from __future__ import annotations

import bisect
import datetime as dt
from typing import Any, Iterable, Sequence

from stackeye.core.config import ConfigError
from stackeye.decisions import inputs, policy_file, sources
from stackeye.decisions.evaluate import Evaluator
from stackeye.decisions.policy_file import PolicyFile
from stackeye.query.views.params import Window


class MemoryStore:
    def __init__(self):
        self._states: dict[tuple[str, str], list[tuple[dt.datetime, Any]]] = {}
        self._decisions: dict[tuple[str, str], dict[str, list[tuple[dt.datetime, dict]]]] = {}

    def record(self, evaluations: Iterable) -> int:
        n = 0
        for e in evaluations:
            bisect.insort(self._states.setdefault((e.kind, e.key), []), (e.at, e.state), key=lambda x: x[0])
            for o in e.outcomes:
                d = o.decision
                doc = {"weight": getattr(d, "weight", None), "state": getattr(d, "state", None),
                       "breaker": getattr(d, "breaker", None), "desired_replicas": getattr(d, "desired_replicas", None)}
                self._decisions.setdefault((e.kind, e.key), {}).setdefault(o.subject, []).append((e.at, doc))
                n += 1
        return n

    def states_at(self, kind: str, keys: Sequence[str], at: dt.datetime, state_type: type | None = None) -> dict:
        out = {}
        for key in keys:
            rows = [s for t, s in self._states.get((kind, key), ()) if t <= at]
            if rows:
                out[key] = rows[-1]
        return out

    def state_at(self, kind: str, key: str, at: dt.datetime, state_type: type | None = None):
        return self.states_at(kind, [key], at).get(key)

    def last_decisions(self, kind: str, key: str, at: dt.datetime) -> dict[str, dict]:
        out = {}
        for subject, rows in self._decisions.get((kind, key), {}).items():
            before = [doc for t, doc in rows if t < at]
            if before:
                out[subject] = before[-1]
        return out


class Replay:
    """``evaluate(at) -> (decisions, inputs)`` for one policy key over ``storage``'s history."""

    def __init__(self, storage, policy_path: str | None, kind: str, key: str | None):
        self.storage, self.kind = storage, kind
        self.policies = policy_file.load(policy_path) if policy_path else PolicyFile()
        if kind == "autoscale" and not key:
            keys = self.policies.keys("autoscale")
            if len(keys) != 1:
                raise ConfigError("service", "--kind autoscale needs --service NAME" + (
                    f" (the policy file has {', '.join(keys)})" if keys else ""), where="--service")
            key = keys[0]
        self.key = key
        self.settings = self.policies.settings(kind, key)
        self.evaluator = Evaluator(storage, self.policies)
        self.evaluator.store = MemoryStore()  # nothing written; state carried from step to step

    @property
    def slo_ms(self) -> float | None:
        for name in ("latency_p95_ms", "latency_p99_ms", "slow_call_ms"):
            value = getattr(self.settings, name, None)
            if value:
                return float(value)
        return None

    def _window(self, at: dt.datetime) -> Window:
        return Window(at - dt.timedelta(seconds=float(self.settings.window)), at)

    def evaluate(self, at: dt.datetime) -> tuple[list, tuple]:
        """The decisions as of ``at`` and what they were made on: (requests/s, replicas, p95 ms) —
        autoscale: live replicas and the fleet's p95; routing: active servers and the worst p95."""
        window = self._window(at)
        if self.kind == "autoscale":
            decisions = self.evaluator.autoscale(self.key, at=at)
            load = inputs.service_loads(self.storage, window, [self.key])
            if not load:
                return decisions, (None, None, None)
            return decisions, (round(load[0].rps, 3), load[0].current_replicas, load[0].p95_ms)
        decisions = self.evaluator.routing(self.key, at=at)
        rows = sources.server_loads(self.settings.source, self.storage, self.key, self.settings, window)
        p95s = [r.p95_ms for r in rows if r.p95_ms is not None]
        active = sum(1 for d in decisions if d.state == "active")
        return decisions, (round(sum(r.requests for r in rows) / window.seconds, 3) if rows else None,
                           active if rows else None, max(p95s) if p95s else None)
