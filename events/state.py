"""The state machine of a rule, pure: pending → firing → resolved, per label set.

:func:`step` takes a rule's active alerts (label sets whose condition held at the last
evaluation), what the rule measures now, and the instant, and returns the new active alerts and
the events of the transitions — one per transition, none while a state lasts:

- a condition that starts holding: ``pending`` (or ``firing`` at once when the rule has no ``for``);
- pending for at least ``for``: ``firing``;
- a firing alert whose condition no longer holds (or whose label set is gone): ``resolved``;
- a pending alert whose condition stops holding before ``for``: ``inactive`` (recorded, not sent).

:func:`step_failed` is the round of a rule whose measurement failed (its SQL refused, a view's
parameter wrong): the rule gets one alert of its own, label ``stackeye_error="evaluation"``, firing
from the first failure and resolved by the next success; its other alerts stay as they are (a
failure proves nothing about them). No clock, no storage: the instant is an argument.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Iterable, Mapping

from stackeye.events.condition import Observation
from stackeye.events.rules import TriggerRule

PENDING, FIRING, RESOLVED, INACTIVE = "pending", "firing", "resolved", "inactive"
STATES = (PENDING, FIRING, RESOLVED, INACTIVE)
ERROR_LABELS = {"stackeye_error": "evaluation"}


def fingerprint(rule: str, labels: Mapping[str, str]) -> str:
    """A stable id of a rule's label set (16 hex digits)."""
    doc = json.dumps([rule, sorted(labels.items())], separators=(",", ":"))
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class Alert:
    """A label set of a rule whose condition holds: pending or firing since ``since``."""

    rule: str
    labels: Mapping[str, str]  # what the rule measured (no rule labels: those are added when sent)
    state: str  # pending | firing
    since: dt.datetime  # when the condition started holding
    value: float
    fired_at: dt.datetime | None = None
    message: str = ""  # the error of an evaluation-error alert

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.rule, self.labels)


@dataclasses.dataclass(frozen=True)
class Event:
    """One transition of one label set."""

    rule: str
    fingerprint: str
    state: str
    at: dt.datetime
    labels: Mapping[str, str]
    value: float
    since: dt.datetime  # when the condition started holding (Alertmanager's startsAt)
    message: str = ""

    @property
    def id(self) -> str:
        at = self.at.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")  # as stored: DateTime64(3)
        doc = f"{self.rule}\0{self.fingerprint}\0{self.state}\0{at}"
        return hashlib.sha256(doc.encode()).hexdigest()[:24]

    @property
    def is_error(self) -> bool:
        return dict(self.labels) == ERROR_LABELS


def _event(alert: Alert, state: str, at: dt.datetime, value: float | None = None) -> Event:
    return Event(alert.rule, alert.fingerprint, state, at, dict(alert.labels),
                 alert.value if value is None else value, alert.since, alert.message)


def step(rule: TriggerRule, active: Mapping[str, Alert], observations: Iterable[Observation],
         at: dt.datetime) -> tuple[dict[str, Alert], list[Event]]:
    """The active alerts after measuring ``observations`` at ``at``, and the transitions' events."""
    hold = dt.timedelta(seconds=rule.for_)
    now: dict[str, Alert] = {}
    events: list[Event] = []
    for obs in observations:
        if not rule.holds(obs.value):
            continue
        fp = fingerprint(rule.name, obs.labels)
        if fp in now:
            continue  # the same label set twice in one result: the first counts
        prior = active.get(fp)
        if prior is None:
            alert = Alert(rule.name, dict(obs.labels), PENDING, at, obs.value)
        else:
            alert = dataclasses.replace(prior, value=obs.value)
        if alert.state == PENDING and at - alert.since >= hold:
            alert = dataclasses.replace(alert, state=FIRING, fired_at=at)
            events.append(_event(alert, FIRING, at))
        elif prior is None:
            events.append(_event(alert, PENDING, at))
        now[fp] = alert
    for fp, prior in active.items():  # (the error alert of a failed round too: this round succeeded)
        if fp not in now:
            events.append(_event(prior, RESOLVED if prior.state == FIRING else INACTIVE, at))
    return now, events


def step_failed(rule: TriggerRule, active: Mapping[str, Alert], message: str,
                at: dt.datetime) -> tuple[dict[str, Alert], list[Event]]:
    """The active alerts after an evaluation that failed with ``message``: the rule's error alert
    fires (once), the others stay."""
    error = Alert(rule.name, dict(ERROR_LABELS), FIRING, at, 1.0, at, message)
    if error.fingerprint in active:
        return dict(active), []
    return {**active, error.fingerprint: error}, [_event(error, FIRING, at)]
