"""Deploy events: a change of a service's ``service.version`` seen in its spans, recorded in ``stackeye_events``.

So a regression can be read next to the deploy that caused it: ``stackeye events --rule deploy``
lists them (rule ``deploy``, labels ``service`` and ``version``, severity ``info``, the time of
the new version's first span). They go to a notifier only when it asks for info events
(``severities = ["info", …]``): a deploy is news, not an alert.

:meth:`DeployTracker.scan` at an instant reads, per service and version, the first and last
span since the last scan (the resource attribute ``service.version``; spans without one do not
count) and hands them to :func:`changes`, which is pure:

- the first version ever seen of a service is its baseline, not a deploy; a version whose first
  span is older than the current version's is older than it, not a deploy;
- a version never announced before is a deploy as soon as its first span is seen (a rolling
  deploy is announced once, while old replicas still answer);
- a version seen before (a rollback) is a deploy again only once its newest span is more than
  :data:`SETTLE` after the current version's newest (or after the current version came, when it
  has no span in the range): old replicas still answering during a rolling deploy do not flap it
  back. A rollback is dated at the later of its first span read and the current version's last.

What was announced is the state: read back from ``stackeye_events`` by a new process, so a
restart re-reads the last ``lookback_s`` of spans and announces nothing twice. Each scan reads
from ``overlap_s`` before the previous one's end, so spans stored late still count.
``stackeye up --triggers FILE`` scans at the start of every trigger round
(:class:`stackeye.app.triggers.TriggerService`); the round's outbox flush sends the events.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Iterable, Mapping

from stackeye.events.state import FIRING, Event, fingerprint
from stackeye.events.store import EVENTS, EventStore, StoredEvent
from stackeye.query.views import sql as q

DEPLOY_RULE = "deploy"
DEPLOY_SEVERITY = "info"
LOOKBACK_S = 3600.0
OVERLAP_S = 300.0
SETTLE = dt.timedelta(seconds=60)  # a rollback: the current version silent this long while the old one answers
VERSION = "ResourceAttributes['service.version']"


@dataclasses.dataclass(frozen=True)
class Seen:
    """One version of one service in the spans read: its first and last span."""

    service: str
    version: str
    first: dt.datetime
    last: dt.datetime


@dataclasses.dataclass
class Known:
    """What was announced of a service: every version, the current one and since when."""

    current: str
    versions: set[str]
    since: dt.datetime  # the current version's first span


@dataclasses.dataclass(frozen=True)
class Deploy:
    service: str
    version: str
    previous: str
    at: dt.datetime  # the new version's first span (a rollback: see the module docstring)


def changes(known: Mapping[str, Known], seen: Iterable[Seen]) -> tuple[list[Deploy], dict[str, Known]]:
    """The deploys in ``seen`` given what was announced (see the module docstring), and the new state.
    Pure: ``known`` is not changed."""
    state = {s: Known(k.current, set(k.versions), k.since) for s, k in known.items()}
    by_service: dict[str, list[Seen]] = {}
    for s in seen:
        by_service.setdefault(s.service, []).append(s)
    out: list[Deploy] = []
    for service, rows in by_service.items():
        rows.sort(key=lambda r: (r.first, r.version))
        for row in rows:
            k = state.get(service)
            if k is None:
                state[service] = Known(row.version, {row.version}, row.first)  # the baseline
                continue
            if row.version == k.current:
                continue
            at = row.first
            if row.version not in k.versions:
                if row.first < k.since:
                    continue  # seen before the current version came: older, no deploy
            else:
                current = next((r for r in rows if r.version == k.current), None)
                current_last = current.last if current is not None else k.since
                if row.last <= current_last + SETTLE:
                    continue  # the current version still answers: old replicas, no rollback
                at = max(row.first, current_last)
            out.append(Deploy(service, row.version, k.current, at))
            state[service] = Known(row.version, k.versions | {row.version}, at)
    out.sort(key=lambda d: (d.at, d.service))
    return out, state


def deploy_event(d: Deploy) -> StoredEvent:
    labels = {"service": d.service, "version": d.version}
    at = d.at.replace(microsecond=d.at.microsecond // 1000 * 1000)  # as stored: DateTime64(3)
    event = Event(DEPLOY_RULE, fingerprint(DEPLOY_RULE, labels), FIRING, at, labels, 1.0, at,
                  f"deploy: {d.service} {d.version} (was {d.previous})")
    return StoredEvent(event, DEPLOY_SEVERITY, True)


def _time(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.timezone.utc)


class DeployTracker:
    def __init__(self, storage, lookback_s: float = LOOKBACK_S, overlap_s: float = OVERLAP_S):
        self.storage = storage
        self.events = EventStore(storage)
        self.lookback_s, self.overlap_s = lookback_s, overlap_s
        self._known: dict[str, Known] | None = None
        self._scanned_to: dt.datetime | None = None

    def known(self) -> dict[str, Known]:
        """service → what was announced, from ``stackeye_events``."""
        label = "JSONExtractString(Labels, {})"
        result = self.storage.query(
            f"SELECT {label.format(q.lit('service'))} AS service, "
            f"argMax({label.format(q.lit('version'))}, Time), groupUniqArray({label.format(q.lit('version'))}), "
            f"max(Time) FROM {EVENTS} WHERE Rule = {q.lit(DEPLOY_RULE)} GROUP BY service")
        return {service: Known(current, set(versions), _time(since)) for service, current, versions, since in result.rows}

    def seen(self, since: dt.datetime, until: dt.datetime) -> list[Seen]:
        result = self.storage.query(
            f"SELECT ServiceName, {VERSION} AS version, min(Timestamp), max(Timestamp) FROM otel_traces "
            f"WHERE Timestamp >= {q.ts(since)} AND Timestamp < {q.ts(until)} AND version != '' "
            f"GROUP BY ServiceName, version")
        return [Seen(s, v, _time(first), _time(last)) for s, v, first, last in result.rows]

    def scan(self, at: dt.datetime) -> list[StoredEvent]:
        """Record the deploys seen in the spans up to ``at``; their events (stored, to notify)."""
        if self._known is None:
            self._known = self.known()
        since = (self._scanned_to - dt.timedelta(seconds=self.overlap_s) if self._scanned_to
                 else at - dt.timedelta(seconds=self.lookback_s))
        found, state = changes(self._known, self.seen(since, at))
        events = [deploy_event(d) for d in found]
        self.events.record(events)  # before the state moves on: a failed insert finds them again
        self._known, self._scanned_to = state, at
        return events
