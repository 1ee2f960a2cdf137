"""One sync of the issues with the ``errors`` view: fold new error groups in, emit their events.

:meth:`IssueSync.sync` at an instant reads the errors view over the whole minutes since the last
sync — ``[synced_to, start of at's minute)``, the view's rollup grain, so every error is counted
exactly once (the first sync of a store looks back ``lookback_s``; a restart resumes at the
store's ``SyncedTo``) — and steps every issue (:mod:`~stackeye.events.issues`). A ``new`` or
``regressed`` issue becomes an event of rule ``issue_new`` / ``issue_regressed`` in
``stackeye_events`` (Notify = 1), recorded before the issues are saved: the trigger engine's
outbox sends it to every notifier like any firing rule (at least once), and ``stackeye events
--rule issue_regressed`` lists them. Errors stored after their minute was read are not counted.

``stackeye up --triggers FILE`` runs a sync at the start of every trigger round
(:class:`stackeye.app.triggers.TriggerService`).
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from stackeye.events import issues as lifecycle
from stackeye.events.issue_store import IssueStore
from stackeye.events.state import FIRING, Event
from stackeye.events.store import EventStore, StoredEvent
from stackeye.query.views import registry as views

ISSUE_RULES = {lifecycle.NEW: "issue_new", lifecycle.REGRESSED: "issue_regressed"}
ISSUE_SEVERITY = "warning"
LOOKBACK_S = 24 * 3600.0
MAX_GROUPS = 10_000  # the errors view's largest page


@dataclasses.dataclass
class SyncResult:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    changed: list[lifecycle.Issue] = dataclasses.field(default_factory=list)
    events: list[StoredEvent] = dataclasses.field(default_factory=list)


def _minute(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.timezone.utc).replace(second=0, microsecond=0)


def issue_event(issue: lifecycle.Issue, transition: str, at: dt.datetime) -> StoredEvent:
    """The event of a ``new`` or ``regressed`` issue, to notify."""
    labels = {"fingerprint": issue.fingerprint, "exception_type": issue.exception_type,
              "service": ",".join(issue.services), "issue_status": issue.status}
    word = "new issue" if transition == lifecycle.NEW else "issue regressed"
    message = f"{word}: {issue.exception_type or 'error'}: {issue.message} (trace {issue.sample_trace_id})"
    event = Event(ISSUE_RULES[transition], issue.fingerprint, FIRING, at, labels, float(issue.count),
                  issue.last_seen if transition == lifecycle.REGRESSED else issue.first_seen, message)
    return StoredEvent(event, ISSUE_SEVERITY, True)


class IssueSync:
    def __init__(self, storage, lookback_s: float = LOOKBACK_S):
        self.storage = storage
        self.issues = IssueStore(storage)
        self.events = EventStore(storage)
        self.lookback_s = lookback_s
        self._synced_to: dt.datetime | None = None

    def _since(self, until: dt.datetime) -> dt.datetime:
        if self._synced_to is None:
            self._synced_to = self.issues.synced_to() or until - dt.timedelta(seconds=self.lookback_s)
        return self._synced_to

    def sync(self, at: dt.datetime) -> SyncResult:
        until = _minute(at)
        since = self._since(until)
        result = SyncResult(since, until)
        if since >= until:
            return result
        rows = views.get("errors").run(self.storage, now=until, limit=MAX_GROUPS,
                                       **{"from": since.isoformat(), "to": until.isoformat()}).dicts()
        seen = lifecycle.groups(rows)
        prior = {i.fingerprint: i for i in self.issues.latest()}
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)  # as stored: DateTime64(3)
        for fp, group in seen.items():
            issue, transition = lifecycle.observe(prior.get(fp), group, at)
            result.changed.append(issue)
            if transition:
                result.events.append(issue_event(issue, transition, at))
        for fp, issue in prior.items():
            if fp not in seen and (aged := lifecycle.age(issue, at)) is not None:
                result.changed.append(aged)
        self.events.record(result.events)  # before the issues move on: a failed save finds them again
        self.issues.save(result.changed, until)
        self._synced_to = until
        return result

    def act(self, fingerprint: str, action: str, at: dt.datetime) -> lifecycle.Issue | None:
        """Apply ``action`` to the issue; None when no issue has that fingerprint."""
        if action not in lifecycle.ACTIONS:
            raise lifecycle.UnknownAction(action)
        issue = self.issues.get(fingerprint)
        if issue is None:
            return None
        changed = lifecycle.act(issue, action, at.replace(microsecond=at.microsecond // 1000 * 1000))
        self.issues.save([changed], self.issues.synced_to() or _minute(at))
        return changed
