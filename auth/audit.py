"""The audit trail in ``stackeye_audit``: who did what to which tenant's keys, and when.

Two sources feed it:

- :meth:`AuditLog.record`: one row for an action taken through the API (``key.list``...);
- :meth:`AuditLog.sync_keystore`: a row per event the key file records (``tenant.create``,
  ``key.create``, ``key.revoke``) that the table does not hold yet, with the time and actor the file
  names. Changes made by ``stackeye tenants``/``stackeye keys`` while no server runs reach the table
  at the next sync; the keys API syncs right after its change, so its rows appear at once. A key
  file event is ``(Action, Target)`` — a tenant is created once, a key created and revoked once —
  so the events already written are read from the table once and remembered: a sync is idempotent,
  also across restarts.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import threading

from stackeye.auth.keystore import KeyStore
from stackeye.auth.principal import Principal

log = logging.getLogger("stackeye.auth")

TABLE = "stackeye_audit"
COLUMNS = "At DateTime64(3, 'UTC'), Tenant String, Actor String, Action String, Target String, Detail String"
FILE_ACTIONS = ("tenant.create", "key.create", "key.revoke")


def _lit(value: str) -> str:
    """A ClickHouse string literal (the same escaping as stackeye.query.views.sql.lit, a layer above)."""
    s = str(value).replace("\\", "\\\\").replace("'", "\\'").replace("\0", "\\0")
    return f"'{s}'"


def _at(iso: str | dt.datetime | None) -> str:
    if iso is None:
        t = dt.datetime.now(dt.timezone.utc)
    elif isinstance(iso, dt.datetime):
        t = iso
    else:
        t = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return f"toDateTime64('{t.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S.%f}', 3, 'UTC')"


class AuditLog:
    def __init__(self, storage):
        self.storage = storage
        self._lock = threading.Lock()
        self._written: set[tuple[str, str]] | None = None  # key-file events in the table

    def record(self, who: Principal | str, action: str, tenant: str, target: str = "", detail: dict | None = None,
               at: str | dt.datetime | None = None) -> None:
        """One row; ``who`` is a principal or an actor name (``cli:user@host``)."""
        actor = who.actor if isinstance(who, Principal) else str(who)
        self._insert([(at, tenant, actor, action, target, detail or {})])

    def _insert(self, rows) -> None:
        if not rows:
            return
        values = ", ".join(
            f"({_at(at)}, {_lit(tenant)}, {_lit(actor)}, {_lit(action)}, {_lit(target)}, "
            f"{_lit(json.dumps(detail, sort_keys=True, separators=(',', ':')))})"
            for at, tenant, actor, action, target, detail in rows)
        self.storage.query(f"INSERT INTO {TABLE} SELECT * FROM values({_lit(COLUMNS)}, {values})", readonly=False)

    def sync_keystore(self, store: KeyStore) -> int:
        """Write the key file's events the table lacks; return how many were written."""
        with self._lock:
            if self._written is None:
                actions = ", ".join(_lit(a) for a in FILE_ACTIONS)
                result = self.storage.query(f"SELECT DISTINCT Action, Target FROM {TABLE} WHERE Action IN ({actions})")
                self._written = {(a, t) for a, t in result.rows}
            contents = store.contents()
            rows, events = [], []
            for t in contents.tenants:
                events.append((("tenant.create", t.name), (t.created_at, t.name, t.created_by, {})))
            for k in contents.keys:
                detail = {"role": k.role, "label": k.label}
                events.append((("key.create", k.id), (k.created_at, k.tenant, k.created_by, detail)))
                if k.revoked:
                    events.append((("key.revoke", k.id), (k.revoked_at, k.tenant, k.revoked_by or "", detail)))
            for (action, target), (at, tenant, actor, detail) in events:
                if (action, target) not in self._written:
                    rows.append(((action, target), (at, tenant, actor, action, target, detail)))
            self._insert([row for _, row in rows])
            self._written.update(event for event, _ in rows)
            return len(rows)

    def sync_quietly(self, store: KeyStore) -> None:
        """:meth:`sync_keystore` for a periodic round: a failure is logged and retried next round."""
        try:
            n = self.sync_keystore(store)
        except Exception as exc:  # storage down, shutting down: the next round catches up
            log.warning("audit: the key file's events could not be written yet: %s", exc)
            return
        if n:
            log.info("audit: %d key file event(s) recorded", n)
