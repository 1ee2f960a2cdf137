"""The key file: tenants and keys, never a secret; changes locked and atomic, seen by other instances."""
from __future__ import annotations

import json
import multiprocessing
import os
import stat

import pytest
from stackeye.auth.keystore import KeyNotFound, KeyStore, KeyStoreError


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "data" / "stackeye-keys.json")


def test_the_file_holds_hashes_and_never_a_secret(path):
    store = KeyStore(path)
    store.create_tenant("team-a", "cli:me@here")
    key, secret = store.create_key("team-a", "admin", "cli:me@here", "laptop")
    text = open(path).read()
    assert secret not in text and secret.split("_", 3)[3] not in text
    doc = json.loads(text)
    assert doc["tenants"] == [{"name": "team-a", "created_at": doc["tenants"][0]["created_at"], "created_by": "cli:me@here"}]
    [k] = doc["keys"]
    assert k["id"] == key.id and k["role"] == "admin" and k["label"] == "laptop" and len(k["sha256"]) == 64
    assert k["revoked_at"] is None and "sha256" not in key.public()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_unknown_tenant_and_bad_names_are_clear_errors(path):
    store = KeyStore(path)
    with pytest.raises(KeyStoreError, match="stackeye tenants create team-b"):
        store.create_key("team-b", "read", "cli:me@here")
    for bad in ("Team-A", "-a", "", "a" * 64, "a b", "a'b"):
        with pytest.raises(KeyStoreError, match="not a tenant name"):
            store.create_tenant(bad, "cli:me@here")
    store.create_tenant("a", "x")
    with pytest.raises(KeyStoreError, match="exists already"):
        store.create_tenant("a", "x")
    with pytest.raises(KeyStoreError, match="unknown role"):
        store.create_key("a", "root", "x")


def test_another_instance_sees_a_revoke_at_its_next_lookup(path):
    server, cli = KeyStore(path), KeyStore(path)
    cli.create_tenant("team-a", "cli")
    key, _ = cli.create_key("team-a", "ingest", "cli")
    assert server.key(key.id).revoked is False
    revoked = cli.revoke(key.id, "cli:me@here")
    assert revoked.revoked_by == "cli:me@here"
    assert server.key(key.id).revoked_at == revoked.revoked_at
    assert cli.revoke(key.id, "someone else").revoked_by == "cli:me@here"  # again: unchanged


def test_revoke_within_a_tenant_does_not_find_other_tenants_keys(path):
    store = KeyStore(path)
    for t in ("a", "b"):
        store.create_tenant(t, "x")
    key_b, _ = store.create_key("b", "read", "x")
    with pytest.raises(KeyNotFound):
        store.revoke(key_b.id, "key:1", tenant="a")
    with pytest.raises(KeyNotFound):
        store.revoke("00000000", "key:1", tenant="a")
    assert not store.key(key_b.id).revoked


def _create_keys(path: str, n: int) -> None:
    store = KeyStore(path)
    for _ in range(n):
        store.create_key("t", "read", f"proc:{os.getpid()}")


def test_concurrent_writers_lose_no_key(path):
    KeyStore(path).create_tenant("t", "x")
    procs = [multiprocessing.get_context("fork").Process(target=_create_keys, args=(path, 15)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 4
    assert len(KeyStore(path).keys("t")) == 60


def test_a_bad_file_stops_the_start_and_a_later_bad_edit_keeps_the_last_good_keys(path, caplog):
    store = KeyStore(path)
    store.create_tenant("t", "x")
    key, _ = store.create_key("t", "read", "x")
    with open(path, "w") as f:
        f.write("{not json")
    with pytest.raises(KeyStoreError, match="restore it from a backup"):
        KeyStore(path)
    assert store.key(key.id) is not None
    assert "stay in force" in caplog.text
