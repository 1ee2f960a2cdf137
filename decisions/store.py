"""The decision history and the policies' states, in ClickHouse (``stackeye_decisions``).

Each evaluation of one key (a service for ``autoscale``, an upstream set for ``routing``) is one
:class:`Evaluation`: the decisions per subject and the state the policy returned. :meth:`record`
writes any number of them in one INSERT; :meth:`state_at` / :meth:`states_at` read the latest
state at or before an instant (one statement for many keys), which is what makes a restart
continue a scale-down window instead of starting over, and what ``--at TIME`` evaluates from.

The states are decoded into the policy's ``state_type`` (:mod:`stackeye.decisions.codec`); a
state that does not decode (a policy changed its state incompatibly) is logged and replaced by
the initial state, never a crash of the scheduler.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from typing import Any, Iterable, Sequence

from stackeye.decisions import codec, registry
from stackeye.query.views import sql as q

TABLE = "stackeye_decisions"
COLUMNS = "Kind String, Key String, Subject String, Time DateTime64(3, 'UTC'), Changed UInt8, Reason String, " \
          "Decision String, State String"
log = logging.getLogger("stackeye.decisions.store")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One decision of an evaluation: its subject (service or server), whether it changes anything."""

    subject: str
    decision: Any  # AutoscaleDecision | RoutingDecision
    changed: bool
    reason: str


@dataclasses.dataclass(frozen=True)
class Evaluation:
    kind: str
    key: str
    at: dt.datetime
    state: Any
    outcomes: tuple[Outcome, ...]


def _ts(t: dt.datetime) -> str:
    return f"toDateTime64('{t.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S.%f}', 3, 'UTC')"


def _json(value: Any) -> str:
    return json.dumps(codec.encode(value), separators=(",", ":"), default=str)


def _time(value: Any) -> dt.datetime:
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.timezone.utc)


class DecisionStore:
    def __init__(self, storage):
        self.storage = storage

    # -- writing ---------------------------------------------------------------------------------
    def record(self, evaluations: Iterable[Evaluation]) -> int:
        """Store decisions and states; returns the rows written."""
        rows = []
        for e in evaluations:
            at = _ts(e.at)
            kind, key = q.lit(e.kind), q.lit(e.key)
            rows.append(f"({kind}, {key}, '', {at}, 0, '', '', {q.lit(_json(e.state))})")
            for o in e.outcomes:
                rows.append(f"({kind}, {key}, {q.lit(o.subject)}, {at}, {int(o.changed)}, {q.lit(o.reason)}, "
                            f"{q.lit(_json(o.decision))}, '')")
        if rows:
            self.storage.query(q.insert_values(TABLE, COLUMNS, rows),
                               readonly=False)
        return len(rows)

    # -- states ----------------------------------------------------------------------------------
    def states_at(self, kind: str, keys: Sequence[str], at: dt.datetime, state_type: type | None = None) -> dict[str, Any]:
        """The latest state of each of ``keys`` at or before ``at`` (keys never evaluated: absent), as
        ``state_type`` (default: the registered policy's)."""
        if not keys:
            return {}
        state_type = state_type or registry.get(kind).state_type
        where = (f"Kind = {q.lit(kind)} AND Subject = '' AND Key IN ({', '.join(q.lit(k) for k in sorted(set(keys)))}) "
                 f"AND Time <= {_ts(at)}")
        # the latest time per key first (two small columns), then only those rows' states
        result = self.storage.query(
            f"SELECT Key, any(State) FROM {TABLE} WHERE {where} AND (Key, Time) IN "
            f"(SELECT Key, max(Time) FROM {TABLE} WHERE {where} GROUP BY Key) GROUP BY Key")
        out = {}
        for key, raw in result.rows:
            try:
                out[key] = codec.decode(state_type, json.loads(raw))
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                log.warning("the stored %s state of %s does not load (%s); starting from the initial state",
                            kind, key, exc)
        return out

    def state_at(self, kind: str, key: str, at: dt.datetime, state_type: type | None = None):
        """The latest state of ``key`` at or before ``at``, or None."""
        return self.states_at(kind, [key], at, state_type).get(key)

    def last_decisions(self, kind: str, key: str, at: dt.datetime) -> dict[str, dict]:
        """The latest stored decision (as JSON) of each subject of ``key`` before ``at``: what a new
        decision is compared with to say whether it changes anything."""
        where = f"Kind = {q.lit(kind)} AND Key = {q.lit(key)} AND Subject != '' AND Time < {_ts(at)}"
        result = self.storage.query(
            f"SELECT Subject, any(Decision) FROM {TABLE} WHERE {where} AND (Subject, Time) IN "
            f"(SELECT Subject, max(Time) FROM {TABLE} WHERE {where} GROUP BY Subject) GROUP BY Subject")
        return {subject: json.loads(raw) for subject, raw in result.rows}

    # -- history ---------------------------------------------------------------------------------
    def history(self, kind: str, key: str | None = None, since: dt.datetime | None = None,
                until: dt.datetime | None = None, changed_only: bool = False, limit: int = 1000) -> list[dict]:
        """Stored decisions, newest first: ``{time, kind, key, subject, changed, reason, decision}``."""
        where = q.and_all(f"Kind = {q.lit(kind)}", "Subject != ''", f"Key = {q.lit(key)}" if key else "",
                          f"Time >= {_ts(since)}" if since else "", f"Time <= {_ts(until)}" if until else "",
                          "Changed = 1" if changed_only else "")
        result = self.storage.query(
            f"SELECT Time, Kind, Key, Subject, Changed, Reason, Decision FROM {TABLE} WHERE {where} "
            f"ORDER BY Time DESC, Key, Subject LIMIT {int(limit)}")
        return [{"time": _time(t).isoformat().replace("+00:00", "Z"), "kind": k, "key": key_, "subject": s,
                 "changed": bool(c), "reason": r, "decision": json.loads(d)}
                for t, k, key_, s, c, r, d in result.rows]
