"""The evaluator: inputs and previous state in, ``POLICY.decide`` called, decisions and state stored.

All the I/O of the decisions happens here; the policies stay pure. For an instant ``at`` (now,
``--at TIME``, an API request's ``at``):

- **autoscale** — the services with an ``[autoscale.<service>]`` table (every service seen in the
  window when the file has none; exactly the one asked for with ``service=``), their inputs in one
  batch per distinct input window (:func:`stackeye.decisions.inputs.service_loads`), their states
  in one statement, one ``decide`` each, one INSERT for all;
- **routing** — one upstream set: its source's ServerLoad rows over the policy's window, its
  state, ``decide``, the store.

``persist=False`` (``--at``, the CLI, the API's GETs) reads the stored state and stores nothing, so
asking never changes what the scheduler decides next. States come from the store as of ``at``:
a restarted process continues its stabilization windows, a past ``at`` replays history.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import contextlib
import threading
from typing import Callable

from stackeye.decisions import inputs, sources
from stackeye.decisions.policy_file import PolicyFile, registered
from stackeye.decisions.store import DecisionStore, Evaluation, Outcome
from stackeye.query.views.params import ParamError, Window, parse_duration, parse_time

log = logging.getLogger("stackeye.decisions")
UTC = dt.timezone.utc


@dataclasses.dataclass(frozen=True)
class Failure:
    kind: str
    key: str
    error: str


@dataclasses.dataclass(frozen=True)
class Round:
    """What one scheduled evaluation of every policy did."""

    at: dt.datetime
    evaluations: tuple[Evaluation, ...]
    failures: tuple[Failure, ...]

    def changed(self) -> list[tuple[str, str, Outcome]]:
        return [(e.kind, e.key, o) for e in self.evaluations for o in e.outcomes if o.changed]


# One read-decide-record of stored states at a time in this process: the scheduler's round and an
# operator's drain both read a state and write the next; interleaved, one would undo the other.
_STATE_WRITES = threading.Lock()
_NO_LOCK = contextlib.nullcontext()


class Evaluator:
    def __init__(self, storage, policies: PolicyFile | None = None,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(UTC), policy_of=registered):
        """``policy_of(name) -> Policy``: the registry (a backtest or a test may hand in others)."""
        self.storage = storage
        self.store = DecisionStore(storage)
        self.clock = clock
        self.policy_of = policy_of
        self._policies = policies or PolicyFile(policy_of=policy_of)
        self._lock = threading.Lock()

    @property
    def policies(self) -> PolicyFile:
        return self._policies

    def replace_policies(self, policies: PolicyFile) -> None:
        """Take ``policies`` from the next evaluation on (a running one finishes with the old)."""
        with self._lock:
            self._policies = policies

    def _at(self, at: dt.datetime | None) -> dt.datetime:
        return (at or self.clock()).astimezone(UTC)

    # -- autoscale -------------------------------------------------------------------------------
    def autoscale(self, service: str | None = None, at: dt.datetime | None = None,
                  persist: bool = True) -> list:
        """One AutoscaleDecision per service (see the module doc for which), as of ``at``."""
        with _STATE_WRITES if persist else _NO_LOCK:
            evaluations = self._autoscale(service, self._at(at), self._policies)
            if persist:
                self.store.record(evaluations)
        return [o.decision for e in evaluations for o in e.outcomes]

    def _autoscale(self, service: str | None, at: dt.datetime, policies: PolicyFile) -> list[Evaluation]:
        policy = self.policy_of("autoscale")
        if service:
            keys = [service]
        else:
            keys = policies.keys("autoscale") or self._live_services(at, policies)
        settings = {k: policies.settings("autoscale", k) for k in keys}
        by_window: dict[float, list[str]] = {}
        for key, s in settings.items():
            by_window.setdefault(float(s.window), []).append(key)
        loads = {}
        for seconds, names in by_window.items():
            groups = {k: getattr(settings[k], "kafka_group", "") for k in names}
            for load in inputs.service_loads(self.storage, _window(at, seconds), names, groups):
                loads[load.service] = load
        states = self.store.states_at("autoscale", keys, at, policy.state_type)
        out = []
        for key in keys:
            state = states.get(key) or policy.state_type()
            decisions, new_state = policy.decide(loads[key], settings[key], state, at)
            out.append(Evaluation("autoscale", key, at, new_state, tuple(
                Outcome(d.service, d, d.desired_replicas != d.current_replicas, d.reason) for d in decisions)))
        return out

    def _live_services(self, at: dt.datetime, policies: PolicyFile) -> list[str]:
        window = float(policies.settings("autoscale", "*").window)
        return [s.service for s in inputs.service_loads(self.storage, _window(at, window))]

    # -- routing ---------------------------------------------------------------------------------
    def routing(self, upstream: str, at: dt.datetime | None = None, persist: bool = True) -> list:
        """One RoutingDecision per server of ``upstream``, as of ``at``."""
        with _STATE_WRITES if persist else _NO_LOCK:
            evaluation = self._routing(upstream, self._at(at), self._policies)
            if persist:
                self.store.record([evaluation])
        return [o.decision for o in evaluation.outcomes]

    def drain(self, upstream: str, server: str, drained: bool = True, at: dt.datetime | None = None):
        """Mark ``server`` of ``upstream`` drained (or not) in the routing state, from ``at`` on: the
        policy gives a drained server weight 0 and state ``drained`` until it is undrained (then it
        starts again at the floor weight). Returns the server's new ServerState."""
        from stackeye.decisions.model import ServerState

        policy, at = self.policy_of("routing"), self._at(at)
        with _STATE_WRITES:
            state = self.store.state_at("routing", upstream, at, policy.state_type) or policy.state_type()
            servers = dict(state.servers)
            prev = servers.get(server) or ServerState()
            # back from a drain: from the floor weight up (slow start), as after an ejection
            servers[server] = dataclasses.replace(prev, drained=True) if drained else \
                dataclasses.replace(prev, drained=False, weight=0.0, slow_start=True)
            self.store.record([Evaluation("routing", upstream, at, dataclasses.replace(state, servers=servers), ())])
        return servers[server]

    def _routing(self, upstream: str, at: dt.datetime, policies: PolicyFile) -> Evaluation:
        policy = self.policy_of("routing")
        settings = policies.settings("routing", upstream)
        loads = sources.server_loads(settings.source, self.storage, upstream, settings, _window(at, settings.window))
        state = self.store.state_at("routing", upstream, at, policy.state_type) or policy.state_type()
        decisions, new_state = policy.decide(tuple(loads), settings, state, at)
        before = self.store.last_decisions("routing", upstream, at)
        outcomes = []
        for d in decisions:
            prev = before.get(d.server)
            changed = prev is None or (prev.get("weight"), prev.get("state"), prev.get("breaker")) != \
                (d.weight, d.state, d.breaker)
            outcomes.append(Outcome(d.server, d, changed, d.reason))
        return Evaluation("routing", upstream, at, new_state, tuple(outcomes))

    # -- everything, on a schedule ---------------------------------------------------------------
    def evaluate(self, at: dt.datetime | None = None, persist: bool = True) -> Round:
        """Every policy of the file: autoscale for its services, routing for each upstream set.

        A failing part (a query, a policy) is reported in ``failures`` and does not stop the rest."""
        at, policies = self._at(at), self._policies  # one set of policies for the whole round
        evaluations, failures = [], []
        with _STATE_WRITES if persist else _NO_LOCK:
            if policies.keys("autoscale"):
                try:
                    evaluations += self._autoscale(None, at, policies)
                except Exception as exc:  # logged and counted by the caller; the routing still runs
                    failures.append(Failure("autoscale", "*", f"{type(exc).__name__}: {exc}"))
            for upstream in policies.keys("routing"):
                try:
                    evaluations.append(self._routing(upstream, at, policies))
                except Exception as exc:
                    failures.append(Failure("routing", upstream, f"{type(exc).__name__}: {exc}"))
            if persist and evaluations:
                self.store.record(evaluations)
        return Round(at, tuple(evaluations), tuple(failures))

    # -- history ---------------------------------------------------------------------------------
    def history(self, kind: str, key: str | None = None, since: dt.datetime | None = None,
                until: dt.datetime | None = None, changed_only: bool = False, limit: int = 1000) -> list[dict]:
        self.policy_of(kind)  # an unknown kind is a KeyError naming the kinds
        return self.store.history(kind, key, since, until, changed_only, limit)


def _window(at: dt.datetime, seconds: float) -> Window:
    return Window(at - dt.timedelta(seconds=float(seconds)), at)


def parse_at(text: str | None, now: dt.datetime | None = None, param: str = "at") -> dt.datetime | None:
    """``--at`` / ``?at=``: RFC 3339 (``2026-11-26T10:00:00Z``) or ``-DURATION`` before now (``-2h``);
    None or empty: now. A bad one is a ParamError naming ``param``."""
    if text in (None, ""):
        return None
    text = str(text).strip()
    if text.startswith("-"):
        return (now or dt.datetime.now(UTC)) - parse_duration(text[1:], param)
    try:
        return parse_time(text, param)
    except ParamError:
        raise ParamError(param, f"{text!r} is neither an RFC 3339 time (2026-11-26T10:00:00Z) nor -DURATION "
                                "before now (-2h)") from None
