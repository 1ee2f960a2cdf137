"""The audit log in chDB: rows with who, what and when; the key file's events synced once."""
from __future__ import annotations

from stackeye.auth.audit import AuditLog
from stackeye.auth.keystore import KeyStore
from stackeye.auth.principal import Principal


def _rows(storage):
    return storage.query("SELECT toString(At), Tenant, Actor, Action, Target, Detail FROM stackeye_audit "
                         "ORDER BY At, Action").rows


def test_record_writes_one_row_with_the_actor(chdb_storage):
    storage = chdb_storage()
    audit = AuditLog(storage)
    audit.record(Principal("team-a", "admin", "0123abcd", "store"), "key.list", "team-a", "", {"keys": 2})
    audit.record("cli:o'brien@host", "key.list", "team-b", "x'y")
    rows = _rows(storage)
    assert [r[1:] for r in rows] == [["team-a", "key:0123abcd", "key.list", "", '{"keys":2}'],
                                     ["team-b", "cli:o'brien@host", "key.list", "x'y", "{}"]]


def test_sync_writes_each_key_file_event_once_with_its_time_and_actor(chdb_storage, tmp_path):
    storage = chdb_storage()
    store = KeyStore(str(tmp_path / "keys.json"))
    store.create_tenant("team-a", "cli:me@here")
    key, _ = store.create_key("team-a", "ingest", "cli:me@here", "prod")
    assert AuditLog(storage).sync_keystore(store) == 2
    revoked = store.revoke(key.id, "key:feedf00d")
    assert AuditLog(storage).sync_keystore(store) == 1  # a new instance (a restart) reads what is written
    audit = AuditLog(storage)
    assert audit.sync_keystore(store) == 0 and audit.sync_keystore(store) == 0
    rows = _rows(storage)
    assert [r[1:5] for r in rows] == [["team-a", "cli:me@here", "tenant.create", "team-a"],
                                      ["team-a", "cli:me@here", "key.create", key.id],
                                      ["team-a", "key:feedf00d", "key.revoke", key.id]]
    assert rows[2][0].replace(" ", "T") + "Z" == revoked.revoked_at
    assert '"role":"ingest"' in rows[1][5] and '"label":"prod"' in rows[1][5]
