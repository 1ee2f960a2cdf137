"""The key file: tenants and their keys, as JSON, never a secret.

``stackeye tenants``/``stackeye keys`` and a running server (the keys API) both change it, so every
change takes an ``fcntl`` lock on ``<file>.lock`` (the file itself is replaced on each write, a
lock on it would lock the old one), re-reads the file under the lock, and writes it whole with
:func:`~stackeye.core.files.write_atomically` (a reader sees the old content or the new). Lookups
``stat`` the file and re-parse it only when its inode, size or mtime changed: a key revoked from the
CLI is refused by a running server at its next request, without a restart.

A file that cannot be read is a :class:`KeyStoreError` when first opened (the process must not
start without its keys); when it turns bad later (edited by hand), the last good content stays in
force and the error is logged once per change.

Layout (``version`` 1)::

    {"version": 1,
     "tenants": [{"name", "created_at", "created_by"}],
     "keys": [{"id", "tenant", "role", "sha256", "created_at", "created_by",
               "revoked_at", "revoked_by", "label"}]}

Times are RFC 3339 UTC with milliseconds; ``created_by``/``revoked_by`` name the actor
(``cli:<user>@<host>``, ``key:<id>``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import logging
import os
import threading

from stackeye.auth import secrets as se
from stackeye.auth.principal import INGEST, ROLES
from stackeye.auth.tenants import BadTenantName, check_tenant_name
from stackeye.core.errors import Fatal
from stackeye.core.files import write_atomically

log = logging.getLogger("stackeye.auth")

FILE_NAME = "stackeye-keys.json"
VERSION = 1


class KeyStoreError(Fatal, ValueError):
    """The key file cannot be read or written, or a change to it is refused (the message says why)."""


class KeyNotFound(KeyStoreError):
    pass


def default_path(data_dir: str) -> str:
    return os.path.join(data_dir, FILE_NAME)


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclasses.dataclass(frozen=True)
class TenantRecord:
    name: str
    created_at: str
    created_by: str


@dataclasses.dataclass(frozen=True)
class KeyRecord:
    id: str
    tenant: str
    role: str
    sha256: str
    created_at: str
    created_by: str
    revoked_at: str | None = None
    revoked_by: str | None = None
    label: str = ""

    @property
    def kind(self) -> str:
        return se.INGEST_KIND if self.role == INGEST else se.API_KIND

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def public(self) -> dict:
        """What listings show: everything but the hash."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "sha256"}


@dataclasses.dataclass(frozen=True)
class Contents:
    tenants: tuple[TenantRecord, ...] = ()
    keys: tuple[KeyRecord, ...] = ()

    def tenant(self, name: str) -> TenantRecord | None:
        return next((t for t in self.tenants if t.name == name), None)

    def key(self, key_id: str) -> KeyRecord | None:
        return next((k for k in self.keys if k.id == key_id), None)

    def document(self) -> dict:
        return {"version": VERSION, "tenants": [dataclasses.asdict(t) for t in self.tenants],
                "keys": [dataclasses.asdict(k) for k in self.keys]}


def _parse(text: str, path: str) -> Contents:
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            raise ValueError(f"expected a JSON object with \"version\": {VERSION}")
        tenants = tuple(TenantRecord(**t) for t in doc.get("tenants", []))
        keys = tuple(KeyRecord(**k) for k in doc.get("keys", []))
        for t in tenants:
            check_tenant_name(t.name)
        for k in keys:
            if k.role not in ROLES:
                raise ValueError(f"key {k.id} has the role {k.role!r}, not one of {', '.join(ROLES)}")
    except (ValueError, TypeError) as exc:
        raise KeyStoreError(f"the key file {path} is not valid ({exc}); restore it from a backup or move it away "
                            "and create the tenants again (stackeye tenants create NAME)") from None
    return Contents(tenants, keys)


class KeyStore:
    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._contents = Contents()
        self._refresh(strict=True)

    # -- reading ------------------------------------------------------------------------------
    def contents(self) -> Contents:
        """The file as it is now (re-parsed only when it changed since the last look)."""
        self._refresh(strict=False)
        return self._contents

    def tenants(self) -> tuple[TenantRecord, ...]:
        return self.contents().tenants

    def keys(self, tenant: str | None = None) -> list[KeyRecord]:
        return [k for k in self.contents().keys if tenant is None or k.tenant == tenant]

    def key(self, key_id: str) -> KeyRecord | None:
        return self.contents().key(key_id)

    def _stat(self) -> tuple | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_size, st.st_mtime_ns

    def _refresh(self, strict: bool) -> None:
        stamp = self._stat()
        if stamp == self._stamp:
            return
        with self._lock:
            if stamp == self._stamp:
                return
            try:
                contents = self._read()
            except (KeyStoreError, OSError) as exc:
                if strict:
                    raise KeyStoreError(str(exc)) from None
                log.error("%s; the keys read before stay in force", exc)
                self._stamp = stamp  # logged once per change of the file
                return
            self._contents, self._stamp = contents, stamp

    def _read(self) -> Contents:
        try:
            with open(self.path, encoding="utf-8") as f:
                return _parse(f.read(), self.path)
        except FileNotFoundError:
            return Contents()

    # -- changing -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self):
        """The file's current content under the lock; what the block stores in ``box[0]`` is written."""
        folder = os.path.dirname(self.path)
        try:
            os.makedirs(folder, exist_ok=True)
            lock = open(self.path + ".lock", "a")
        except OSError as exc:
            raise KeyStoreError(f"cannot write the key file {self.path} ({exc}): run as the user that owns "
                                f"{folder}, or pass --keys-file PATH") from None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            box = [self._read()]
            before = box[0]
            yield box
            if box[0] is not before:
                text = json.dumps(box[0].document(), indent=2) + "\n"
                write_atomically(self.path, text)  # mkstemp: the new file is mode 0600
                with self._lock:
                    self._contents, self._stamp = box[0], self._stat()

    def create_tenant(self, name: str, actor: str) -> TenantRecord:
        try:
            check_tenant_name(name)
        except BadTenantName as exc:
            raise KeyStoreError(str(exc)) from None
        with self._locked() as box:
            c = box[0]
            if c.tenant(name):
                raise KeyStoreError(f"the tenant {name!r} exists already (stackeye tenants list)")
            tenant = TenantRecord(name, now_iso(), actor)
            box[0] = dataclasses.replace(c, tenants=c.tenants + (tenant,))
        return tenant

    def create_key(self, tenant: str, role: str, actor: str, label: str = "") -> tuple[KeyRecord, str]:
        """A new key of ``tenant``: its record and its secret, the only time the secret exists."""
        if role not in ROLES:
            raise KeyStoreError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
        with self._locked() as box:
            c = box[0]
            if not c.tenant(tenant):
                known = ", ".join(t.name for t in c.tenants) or "none yet"
                raise KeyStoreError(f"no tenant {tenant!r} in {self.path} (tenants: {known}); create it first: "
                                    f"stackeye tenants create {tenant}")
            key_id = se.new_key_id()
            while c.key(key_id):
                key_id = se.new_key_id()
            secret = se.generate(se.INGEST_KIND if role == INGEST else se.API_KIND, key_id)
            record = KeyRecord(key_id, tenant, role, secret.sha256, now_iso(), actor, label=label)
            box[0] = dataclasses.replace(c, keys=c.keys + (record,))
        return record, secret.text

    def revoke(self, key_id: str, actor: str, tenant: str | None = None) -> KeyRecord:
        """Revoke a key (of ``tenant`` only, when given: another tenant's key is not found, the same
        as a key that does not exist). Revoking a revoked key changes nothing and returns it."""
        with self._locked() as box:
            c = box[0]
            key = c.key(key_id)
            if key is None or (tenant is not None and key.tenant != tenant):
                raise KeyNotFound(f"no key {key_id!r}" + (f" in tenant {tenant!r}" if tenant else "") +
                                  " (stackeye keys list)")
            if key.revoked:
                return key
            revoked = dataclasses.replace(key, revoked_at=now_iso(), revoked_by=actor)
            box[0] = dataclasses.replace(c, keys=tuple(revoked if k.id == key_id else k for k in c.keys))
        return revoked
