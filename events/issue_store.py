"""Issues in ClickHouse (``stackeye_issues``): every version of an issue appended, the latest read.

- :meth:`IssueStore.save` appends versions (one INSERT) with the sync window's end they were
  written at (``SyncedTo``);
- :meth:`IssueStore.latest` reads the issues — the newest version per fingerprint — optionally
  of one status or fingerprint;
- :meth:`IssueStore.synced_to` is where the previous sync (of this process or one before a
  restart) stopped reading the errors view.

Appending instead of updating keeps writes plain INSERTs (ClickHouse's strength) and the history
of a group's statuses readable; reads take ``argMax(…, UpdatedAt)``.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from stackeye.events.issues import Issue
from stackeye.query.views import sql as q

ISSUES = "stackeye_issues"
COLUMNS = ("Fingerprint String, Status String, ExceptionType String, Message String, Count UInt64, "
           "FirstSeen DateTime64(3, 'UTC'), LastSeen DateTime64(3, 'UTC'), SampleTraceId String, "
           "Services Array(String), Routes Array(String), ResolvedAt Nullable(DateTime64(3, 'UTC')), "
           "Regressions UInt32, UpdatedAt DateTime64(3, 'UTC'), SyncedTo DateTime64(3, 'UTC')")
FIELDS = ("Status", "ExceptionType", "Message", "Count", "FirstSeen", "LastSeen", "SampleTraceId", "Services",
          "Routes", "ResolvedAt", "Regressions", "UpdatedAt", "SyncedTo")


def _ts(t: dt.datetime | None) -> str:
    if t is None:
        return "NULL"
    return f"toDateTime64('{t.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S.%f}', 3, 'UTC')"


def _time(value) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.timezone.utc)


def _array(items) -> str:
    return "[" + ", ".join(q.lit(str(i)) for i in items) + "]"


class IssueStore:
    def __init__(self, storage):
        self.storage = storage

    def save(self, issues: Iterable[Issue], synced_to: dt.datetime) -> int:
        rows = [f"({q.lit(i.fingerprint)}, {q.lit(i.status)}, {q.lit(i.exception_type)}, {q.lit(i.message)}, "
                f"{int(i.count)}, {_ts(i.first_seen)}, {_ts(i.last_seen)}, {q.lit(i.sample_trace_id)}, "
                f"{_array(i.services)}, {_array(i.routes)}, {_ts(i.resolved_at)}, {int(i.regressions)}, "
                f"{_ts(i.updated_at or synced_to)}, {_ts(synced_to)})" for i in issues]
        if rows:
            self.storage.query(q.insert_values(ISSUES, COLUMNS, rows),
                               readonly=False)
        return len(rows)

    def latest(self, status: str | None = None, fingerprint: str | None = None) -> list[Issue]:
        """The issues, most recently seen first."""
        where = f"Fingerprint = {q.lit(fingerprint)}" if fingerprint else "1"
        cols = ", ".join(f"argMax({f}, UpdatedAt) AS last_{f}" for f in FIELDS)  # aliases must not shadow
        having = f"HAVING last_Status = {q.lit(status)}" if status else ""
        result = self.storage.query(f"SELECT Fingerprint, {cols} FROM {ISSUES} WHERE {where} GROUP BY Fingerprint "
                                    f"{having} ORDER BY last_LastSeen DESC, Fingerprint")
        out = []
        for (fp, st, etype, message, count, first, last, trace, services, routes, resolved, regressions, updated,
             _synced) in result.rows:
            out.append(Issue(fp, st, etype, message, int(count), _time(first), _time(last), trace, tuple(services),
                             tuple(routes), _time(resolved), int(regressions), _time(updated)))
        return out

    def get(self, fingerprint: str) -> Issue | None:
        found = self.latest(fingerprint=fingerprint)
        return found[0] if found else None

    def synced_to(self) -> dt.datetime | None:
        result = self.storage.query(f"SELECT count(), max(SyncedTo) FROM {ISSUES}")
        n, last = result.rows[0]
        return _time(last) if int(n) else None
