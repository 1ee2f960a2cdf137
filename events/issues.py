"""The lifecycle of an issue — one error group of the ``errors`` view — pure: no clock, no storage.

An issue is keyed by the errors view's ``fingerprint`` (exception type + message fingerprint) and
gathers every service and route it was seen in. Its status is one of:

- ``new``: seen for the first time in this sync; becomes ``open`` at the next sync;
- ``open``: known, not acted on;
- ``resolved``: a user resolved it at ``resolved_at``;
- ``regressed``: resolved, then seen again *after* its resolve time (errors from before the
  resolve that arrive late do not count); stays regressed until a user acts on it;
- ``ignored``: counted, never regresses, produces nothing.

:func:`observe` folds one sync's :class:`ErrorGroup` into an issue and says whether that was a
transition worth an event (``new`` or ``regressed``); :func:`age` moves ``new`` to ``open`` when
a sync did not see the issue again; :func:`act` applies ``resolve``, ``ignore`` or ``reopen``.
Counts add up: each sync reads a window the previous ones did not (see :mod:`issue_sync`).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Iterable, Mapping

NEW, OPEN, RESOLVED, IGNORED, REGRESSED = "new", "open", "resolved", "ignored", "regressed"
STATUSES = (NEW, OPEN, RESOLVED, IGNORED, REGRESSED)
ACTIONS = {"resolve": RESOLVED, "ignore": IGNORED, "reopen": OPEN}


class UnknownAction(ValueError):
    def __init__(self, action: str):
        super().__init__(f"unknown issue action {action!r}: use one of {', '.join(ACTIONS)}")
        self.action = action


@dataclasses.dataclass(frozen=True)
class ErrorGroup:
    """One fingerprint's errors in one sync window, over every service and route."""

    fingerprint: str
    exception_type: str
    message: str
    count: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    sample_trace_id: str
    services: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Issue:
    fingerprint: str
    status: str
    exception_type: str
    message: str
    count: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    sample_trace_id: str
    services: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()
    resolved_at: dt.datetime | None = None
    regressions: int = 0
    updated_at: dt.datetime | None = None  # when this version was made (the store keeps the latest)


def _time(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def groups(rows: Iterable[Mapping]) -> dict[str, ErrorGroup]:
    """The errors view's rows (one per service, route, type and message) merged per fingerprint."""
    out: dict[str, ErrorGroup] = {}
    for row in rows:
        g = ErrorGroup(str(row["fingerprint"]), str(row["exception_type"]), str(row["message"]), int(row["count"]),
                       _time(row["first_seen"]), _time(row["last_seen"]), str(row["sample_trace_id"]),
                       (str(row["service"]),), (str(row["route"]),))
        prior = out.get(g.fingerprint)
        out[g.fingerprint] = g if prior is None else _merge_groups(prior, g)
    return out


def _merge_groups(a: ErrorGroup, b: ErrorGroup) -> ErrorGroup:
    newest = b if b.last_seen > a.last_seen else a
    return dataclasses.replace(a, count=a.count + b.count, first_seen=min(a.first_seen, b.first_seen),
                               last_seen=newest.last_seen, sample_trace_id=newest.sample_trace_id,
                               services=tuple(sorted({*a.services, *b.services})),
                               routes=tuple(sorted({*a.routes, *b.routes})))


def observe(prior: Issue | None, group: ErrorGroup, at: dt.datetime) -> tuple[Issue, str | None]:
    """The issue after ``group`` was seen in the sync at ``at``, and ``new``/``regressed`` or None."""
    if prior is None:
        return Issue(group.fingerprint, NEW, group.exception_type, group.message, group.count, group.first_seen,
                     group.last_seen, group.sample_trace_id, group.services, group.routes, updated_at=at), NEW
    newer = group.last_seen >= prior.last_seen
    issue = dataclasses.replace(
        prior, count=prior.count + group.count, first_seen=min(prior.first_seen, group.first_seen),
        last_seen=max(prior.last_seen, group.last_seen),
        sample_trace_id=group.sample_trace_id if newer else prior.sample_trace_id,
        services=tuple(sorted({*prior.services, *group.services})),
        routes=tuple(sorted({*prior.routes, *group.routes})), updated_at=at)
    if prior.status == RESOLVED and prior.resolved_at is not None and group.last_seen > prior.resolved_at:
        return dataclasses.replace(issue, status=REGRESSED, regressions=prior.regressions + 1), REGRESSED
    if prior.status == NEW:
        return dataclasses.replace(issue, status=OPEN), None
    return issue, None


def age(prior: Issue, at: dt.datetime) -> Issue | None:
    """A ``new`` issue a sync did not see again becomes ``open``; None: nothing changes."""
    return dataclasses.replace(prior, status=OPEN, updated_at=at) if prior.status == NEW else None


def act(issue: Issue, action: str, at: dt.datetime) -> Issue:
    """``resolve`` (from ``at`` on, a new error regresses it), ``ignore`` or ``reopen``."""
    if action not in ACTIONS:
        raise UnknownAction(action)
    status = ACTIONS[action]
    if issue.updated_at is not None and at <= issue.updated_at:  # the newest version wins, even past a skewed clock
        at = issue.updated_at + dt.timedelta(milliseconds=1)
    return dataclasses.replace(issue, status=status, resolved_at=at if status == RESOLVED else None, updated_at=at)


def document(issue: Issue) -> dict:
    """The issue as the CLI and API show it (times RFC 3339)."""
    def iso(t):
        return t.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z") if t else None

    return {"fingerprint": issue.fingerprint, "status": issue.status, "exception_type": issue.exception_type,
            "message": issue.message, "count": issue.count, "first_seen": iso(issue.first_seen),
            "last_seen": iso(issue.last_seen), "sample_trace_id": issue.sample_trace_id,
            "services": list(issue.services), "routes": list(issue.routes), "resolved_at": iso(issue.resolved_at),
            "regressions": issue.regressions, "updated_at": iso(issue.updated_at)}
