"""One evaluation round of every trigger rule: measure, step the state machine, store, notify.

:meth:`TriggerEngine.evaluate` at an instant:

1. the first round reads the alerts that were active from ``stackeye_events`` (a restart resumes:
   an alert already firing does not fire, nor notify, again);
2. the rules due (``every``) are measured together (:func:`~stackeye.events.condition.measure_all`:
   rules over the same view run and window share one query) and each is stepped
   (:mod:`~stackeye.events.state`); a rule whose measurement fails gets its own error alert, and
   the other rules go on;
3. the round's events are stored in one INSERT — before anything is sent — and only then become
   the state in memory (a round whose store fails leaves the state as it was: the next round
   finds the same transitions again);
4. the outbox is drained (:mod:`~stackeye.events.dispatch`), and Alertmanager's firing alerts are
   refreshed when due.

:meth:`TriggerEngine.dry_run` is ``stackeye triggers test``: measure and step one rule from the
current state, storing and sending nothing.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading

from stackeye.events import notifiers as notifiers_mod
from stackeye.events.condition import measure, measure_all
from stackeye.events.dispatch import DeliveryCounts, Dispatcher
from stackeye.events.rule_file import TriggerFile
from stackeye.events.rules import TriggerRule, silenced
from stackeye.events.state import FIRING, RESOLVED, Alert, Event, step, step_failed
from stackeye.events.store import EventStore, StoredEvent

log = logging.getLogger("stackeye.events")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _millis(t: dt.datetime) -> dt.datetime:
    """``t`` to the millisecond: what stackeye_events keeps (DateTime64(3)), so a stored event reads back equal."""
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


@dataclasses.dataclass(frozen=True)
class Failure:
    rule: str
    error: str


@dataclasses.dataclass
class Round:
    at: dt.datetime
    evaluated: list[str] = dataclasses.field(default_factory=list)
    events: list[StoredEvent] = dataclasses.field(default_factory=list)
    failures: list[Failure] = dataclasses.field(default_factory=list)
    deliveries: DeliveryCounts = dataclasses.field(default_factory=DeliveryCounts)


class TriggerEngine:
    def __init__(self, storage, triggers: TriggerFile, *, generator_base: str = "", stop: threading.Event | None = None,
                 metrics=None, notifiers=None, backoff=None):
        self.storage = storage
        self.store = EventStore(storage)
        self.stop = stop or threading.Event()
        self.generator_base = generator_base
        self.metrics = metrics
        self._backoff = backoff
        self._given_notifiers = notifiers
        self._lock = threading.Lock()
        self._active: dict[str, dict[str, Alert]] | None = None
        self._last_eval: dict[str, dt.datetime] = {}
        self._last_refresh: dt.datetime | None = None
        self._install(triggers)

    def _install(self, triggers: TriggerFile) -> None:
        self.triggers = triggers
        self._rules = {r.name: r for r in triggers.rules}
        self.notifiers = (self._given_notifiers if self._given_notifiers is not None else
                          [notifiers_mod.make(c, self.generator_base) for c in triggers.notifiers])
        self.dispatcher = Dispatcher(self.store, self.notifiers, self._rules.get, self.stop, self.metrics,
                                     self._backoff)

    def replace(self, triggers: TriggerFile) -> None:
        """New rules from the next round on; alerts of rules that are gone are forgotten."""
        with self._lock:
            self._install(triggers)

    def active(self) -> dict[str, dict[str, Alert]]:
        if self._active is None:
            self._active = self.store.active()
        return self._active

    def _due(self, rule: TriggerRule, at: dt.datetime) -> bool:
        last = self._last_eval.get(rule.name)
        return not rule.every or last is None or (at - last).total_seconds() >= rule.every

    @staticmethod
    def _step(rule: TriggerRule, active, measured, at: dt.datetime):
        """Step ``rule`` on what it measured (its observations, or the error its measurement raised)."""
        if isinstance(measured, Exception):  # this rule's failure stays this rule's: the others go on
            new, events = step_failed(rule, active, f"{type(measured).__name__}: {measured}", at)
            return new, events, Failure(rule.name, str(measured))
        new, events = step(rule, active, measured, at)
        return new, events, None

    def evaluate(self, at: dt.datetime | None = None) -> Round:
        at = _millis(at or _now())
        with self._lock:
            result = Round(at)
            active = self.active()
            new_state: dict[str, dict[str, Alert]] = {}
            due = [rule for rule in self.triggers.rules if self._due(rule, at)]
            measured = measure_all(due, self.storage, at)
            for rule in due:
                new, events, failure = self._step(rule, active.get(rule.name, {}), measured[rule.name], at)
                result.evaluated.append(rule.name)
                if failure:
                    result.failures.append(failure)
                new_state[rule.name] = new
                quiet = silenced(rule, at)
                result.events += [StoredEvent(e, rule.severity, e.state in (FIRING, RESOLVED) and not quiet)
                                  for e in events]
            self.store.record(result.events)  # before anything is sent, before the state moves on
            for name, alerts in new_state.items():
                self._last_eval[name] = at
                if alerts:
                    active[name] = alerts
                else:
                    active.pop(name, None)
            for name in [n for n in active if n not in self._rules]:
                del active[name]
            result.deliveries = self.dispatcher.flush(at)
            self._refresh(at)
            return result

    def _refresh(self, at: dt.datetime) -> None:
        managers = [n for n in self.notifiers if isinstance(n, notifiers_mod.AlertmanagerNotifier)]
        if not managers or (self._last_refresh and (at - self._last_refresh).total_seconds()
                            < notifiers_mod.RESEND_EVERY_S):
            return
        self._last_refresh = at
        firing = [(a, self._rules[a.rule]) for alerts in self.active().values() for a in alerts.values()
                  if a.state == FIRING and a.rule in self._rules and not silenced(self._rules[a.rule], at)]
        for manager in managers:
            try:
                manager.refresh(firing, at)
            except notifiers_mod.DeliveryError as exc:
                log.warning("notifier %s: refreshing %d firing alerts failed (%s); next in %gs", manager.config.id,
                            len(firing), exc, notifiers_mod.RESEND_EVERY_S)

    def dry_run(self, name: str, at: dt.datetime | None = None) -> tuple[list, list[Event], Failure | None]:
        """(observations, events, failure) of rule ``name`` at ``at`` from the current state; nothing kept."""
        at = at or _now()
        rule = self.triggers.rule(name)
        active = self.store.active([name]).get(name, {})
        try:
            observations = measure(rule, self.storage, at)
        except Exception as exc:
            _, events = step_failed(rule, active, f"{type(exc).__name__}: {exc}", at)
            return [], events, Failure(name, str(exc))
        _, events = step(rule, active, observations, at)
        return observations, events, None
