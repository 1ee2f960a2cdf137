"""Events and deliveries in ClickHouse: the history, the state a restart resumes from, the outbox.

- :meth:`EventStore.record` writes a round's events (one INSERT);
- :meth:`EventStore.active` reads the alerts that were pending or firing — the latest event of
  each rule's label set — so a restarted scheduler continues instead of firing (and notifying)
  again what it already had;
- :meth:`EventStore.record_deliveries` writes delivery attempts and outcomes;
  :meth:`EventStore.undelivered` is the outbox: events to notify without a ``delivered`` row for
  a notifier (within ``max_age``: older ones are given up, and stay visible as undelivered);
- :meth:`EventStore.history` filters by rule, state, severity and time, newest first.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Iterable, Sequence

from stackeye.events.state import FIRING, PENDING, Alert, Event
from stackeye.query.views import sql as q

EVENTS, DELIVERIES = "stackeye_events", "stackeye_event_deliveries"
EVENT_COLUMNS = ("Id String, Rule String, Fingerprint String, State String, Time DateTime64(3, 'UTC'), "
                 "Since DateTime64(3, 'UTC'), Value Float64, Severity String, Labels String, Message String, "
                 "Notify UInt8")
DELIVERY_COLUMNS = ("EventId String, Rule String, Notifier String, Time DateTime64(3, 'UTC'), Attempts UInt32, "
                    "Outcome String, Error String")
DELIVERED, FAILED, REJECTED = "delivered", "failed", "rejected"  # rejected: refused for good (4xx)


@dataclasses.dataclass(frozen=True)
class StoredEvent:
    """An event as stored: the transition plus its severity and whether it is sent."""

    event: Event
    severity: str
    notify: bool


@dataclasses.dataclass(frozen=True)
class Delivery:
    event_id: str
    rule: str
    notifier: str
    at: dt.datetime
    attempts: int
    outcome: str  # delivered | failed (retried next round) | rejected (refused for good)
    error: str = ""


def _ts(t: dt.datetime) -> str:
    return f"toDateTime64('{t.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S.%f}', 3, 'UTC')"


def _time(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.timezone.utc)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventStore:
    def __init__(self, storage):
        self.storage = storage

    def _insert(self, table: str, columns: str, rows: list[str]) -> None:
        if rows:
            self.storage.query(q.insert_values(table, columns, rows),
                               readonly=False)

    def record(self, events: Iterable[StoredEvent]) -> int:
        rows = []
        for s in events:
            e = s.event
            labels = json.dumps(dict(e.labels), sort_keys=True, separators=(",", ":"))
            rows.append(f"({q.lit(e.id)}, {q.lit(e.rule)}, {q.lit(e.fingerprint)}, {q.lit(e.state)}, {_ts(e.at)}, "
                        f"{_ts(e.since)}, {float(e.value)!r}, {q.lit(s.severity)}, {q.lit(labels)}, "
                        f"{q.lit(e.message)}, {int(s.notify)})")
        self._insert(EVENTS, EVENT_COLUMNS, rows)
        return len(rows)

    def record_deliveries(self, deliveries: Iterable[Delivery]) -> int:
        rows = [f"({q.lit(d.event_id)}, {q.lit(d.rule)}, {q.lit(d.notifier)}, {_ts(d.at)}, {int(d.attempts)}, "
                f"{q.lit(d.outcome)}, {q.lit(d.error)})" for d in deliveries]
        self._insert(DELIVERIES, DELIVERY_COLUMNS, rows)
        return len(rows)

    def active(self, rules: Sequence[str] | None = None) -> dict[str, dict[str, Alert]]:
        """rule → fingerprint → the alert that was pending or firing at its latest event."""
        where = f"Rule IN ({', '.join(q.lit(r) for r in rules)})" if rules else "1"
        if rules is not None and not rules:
            return {}
        result = self.storage.query(
            f"SELECT Rule, Fingerprint, argMax(State, Time), argMax(Since, Time), argMax(Value, Time), "
            f"argMax(Labels, Time), argMax(Message, Time), max(Time) FROM {EVENTS} WHERE {where} "
            f"GROUP BY Rule, Fingerprint HAVING argMax(State, Time) IN ({q.lit(PENDING)}, {q.lit(FIRING)})")
        out: dict[str, dict[str, Alert]] = {}
        for rule, fp, state, since, value, labels, message, last in result.rows:
            alert = Alert(rule, json.loads(labels), state, _time(since), float(value),
                          _time(last) if state == FIRING else None, message)
            out.setdefault(rule, {})[fp] = alert
        return out

    def undelivered(self, notifier: str, since: dt.datetime, limit: int = 10_000) -> list[StoredEvent]:
        """Events to notify from ``since`` on that ``notifier`` has not delivered, oldest first."""
        result = self.storage.query(
            f"SELECT Id, Rule, Fingerprint, State, Time, Since, Value, Severity, Labels, Message FROM {EVENTS} "
            f"WHERE Notify = 1 AND Time >= {_ts(since)} AND Id NOT IN (SELECT EventId FROM {DELIVERIES} "
            f"WHERE Notifier = {q.lit(notifier)} AND Outcome IN ({q.lit(DELIVERED)}, {q.lit(REJECTED)}) AND Time >= {_ts(since)}) "
            f"ORDER BY Time, Rule, Fingerprint LIMIT {int(limit)}")
        return [self._stored(row) for row in result.rows]

    @staticmethod
    def _stored(row) -> StoredEvent:
        id_, rule, fp, state, at, since, value, severity, labels, message = row[:10]
        event = Event(rule, fp, state, _time(at), json.loads(labels), float(value), _time(since), message)
        return StoredEvent(event, severity, True)

    def series(self, since: dt.datetime, until: dt.datetime, step_s: int, rule: str | None = None,
               severity: str | None = None) -> list[dict]:
        """Transitions per rule, state and time bucket of ``step_s`` seconds (for charts): every bucket of
        ``[since, until)`` is present for each rule and state seen, with 0 where nothing happened."""
        where = q.and_all(f"Time >= {_ts(since)}", f"Time < {_ts(until)}", f"Rule = {q.lit(rule)}" if rule else "",
                          f"Severity = {q.lit(severity)}" if severity else "")
        result = self.storage.query(
            f"SELECT Rule, State, toUInt32(intDiv(toUnixTimestamp(Time) - {int(since.timestamp())}, {int(step_s)})) "
            f"AS b, count() FROM {EVENTS} WHERE {where} GROUP BY Rule, State, b ORDER BY Rule, State, b")
        buckets = max(1, -(-int((until - since).total_seconds()) // int(step_s)))
        counts: dict[tuple[str, str], list[int]] = {}
        for rule_, state, b, n in result.rows:
            counts.setdefault((rule_, state), [0] * buckets)[min(int(b), buckets - 1)] += int(n)
        times = [_iso(since + dt.timedelta(seconds=i * step_s)) for i in range(buckets)]
        return [{"rule": r, "state": st, "times": times, "counts": c} for (r, st), c in counts.items()]

    def history(self, rule: str | None = None, state: str | None = None, severity: str | None = None,
                since: dt.datetime | None = None, until: dt.datetime | None = None, limit: int = 1000) -> list[dict]:
        """Stored events, newest first, each with its deliveries."""
        where = q.and_all(f"Rule = {q.lit(rule)}" if rule else "", f"State = {q.lit(state)}" if state else "",
                          f"Severity = {q.lit(severity)}" if severity else "",
                          f"Time >= {_ts(since)}" if since else "", f"Time <= {_ts(until)}" if until else "")
        result = self.storage.query(
            f"SELECT Id, Rule, Fingerprint, State, Time, Since, Value, Severity, Labels, Message, Notify "
            f"FROM {EVENTS} WHERE {where} ORDER BY Time DESC, Rule, Fingerprint LIMIT {int(limit)}")
        ids = [row[0] for row in result.rows]
        deliveries: dict[str, list[dict]] = {}
        if ids:
            d = self.storage.query(
                f"SELECT EventId, Notifier, Time, Attempts, Outcome, Error FROM {DELIVERIES} "
                f"WHERE EventId IN ({', '.join(q.lit(i) for i in ids)}) ORDER BY Time")
            for event_id, notifier, at, attempts, outcome, error in d.rows:
                deliveries.setdefault(event_id, []).append(
                    {"notifier": notifier, "time": _iso(_time(at)), "attempts": int(attempts), "outcome": outcome,
                     "error": error})
        return [{"id": id_, "rule": r, "fingerprint": fp, "state": st, "time": _iso(_time(t)),
                 "since": _iso(_time(s)), "value": float(v), "severity": sev, "labels": json.loads(lb),
                 "message": msg, "notify": bool(n), "deliveries": deliveries.get(id_, [])}
                for id_, r, fp, st, t, s, v, sev, lb, msg, n in result.rows]
