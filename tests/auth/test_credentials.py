"""One resolver for ingest and the API: flags and the key file, kinds kept apart, revocation, roles."""
from __future__ import annotations

import pytest
from stackeye.auth.credentials import AuthError, Credentials, require_role
from stackeye.auth.keystore import KeyStore
from stackeye.auth.principal import ANONYMOUS, Principal
from stackeye.core.config import ConfigError


@pytest.fixture
def store(tmp_path):
    s = KeyStore(str(tmp_path / "keys.json"))
    s.create_tenant("team-a", "x")
    return s


def _refused(call, *args) -> AuthError:
    with pytest.raises(AuthError) as err:
        call(*args)
    return err.value


def test_nothing_configured_is_the_single_tenant_open_stackeye(tmp_path):
    c = Credentials(KeyStore(str(tmp_path / "none.json")))
    assert not c.ingest_enabled and not c.api_enabled
    assert c.ingest(None) == "default" and c.ingest(None, "team-x") == "team-x"
    assert c.api(None) == ANONYMOUS and ANONYMOUS.confined is False and ANONYMOUS.role == "admin"


def test_store_tokens_and_keys_resolve_and_do_not_cross_over(store):
    c = Credentials(store)
    assert c.ingest_enabled and c.api_enabled
    ingest, token = store.create_key("team-a", "ingest", "x")
    admin, key = store.create_key("team-a", "admin", "x")
    assert c.ingest(f"Bearer {token}") == "team-a"
    assert c.api(f"bearer {key}") == Principal("team-a", "admin", admin.id, "store")
    err = _refused(c.api, f"Bearer {token}")
    assert err.status == 401 and "ingest token" in err.message
    err = _refused(c.ingest, f"Bearer {key}")
    assert err.reason == "bad_token" and "API key" in err.message


def test_missing_bad_and_revoked(store):
    c = Credentials(store)
    meta, token = store.create_key("team-a", "ingest", "x")
    assert _refused(c.ingest, None).reason == "unauthenticated"
    assert _refused(c.ingest, "Basic abc").reason == "unauthenticated"
    assert _refused(c.ingest, "Bearer nope").reason == "bad_token"
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert _refused(c.ingest, f"Bearer {forged}").reason == "bad_token"
    store.revoke(meta.id, "cli:me@here")
    err = _refused(c.ingest, f"Bearer {token}")
    assert err.reason == "revoked_token" and "cli:me@here" in err.message and "--role ingest" in err.message


def test_revoking_the_last_key_does_not_open_the_door(store):
    meta, key = store.create_key("team-a", "read", "x")
    store.revoke(meta.id, "x")
    c = Credentials(store)
    assert c.api_enabled and _refused(c.api, None).status == 401


def test_flags(tmp_path):
    c = Credentials(None, tokens=("t1", "t2=team-b"), api_keys=("k1=team-b", "k2=team-c:admin"))
    assert c.ingest("Bearer t1") == "default" and c.ingest("Bearer t2") == "team-b"
    p = c.api("Bearer k2")
    assert (p.tenant, p.role, p.source, p.confined) == ("team-c", "admin", "flag", True) and p.key_id not in "k2"
    assert c.api("Bearer k1").role == "read"
    assert "ingest token" in _refused(c.api, "Bearer t1").message
    assert "API key" in _refused(c.ingest, "Bearer k1").message
    for bad, setting in ((("=a",), "tokens"), (("x=Team",), "tokens")):
        with pytest.raises(ConfigError, match=setting):
            Credentials(None, tokens=bad)
    for bad in ("k", "k=", "k=a:root", "k=A"):
        with pytest.raises(ConfigError, match="api_keys"):
            Credentials(None, api_keys=(bad,))


def test_a_token_flag_alone_keeps_the_api_open():
    c = Credentials(None, tokens=("t1",))
    assert c.ingest_enabled and not c.api_enabled and c.api(None) == ANONYMOUS


def test_roles():
    reader = Principal("a", "read", "1", "store")
    assert require_role(reader, "read") is reader
    err = _refused(require_role, reader, "admin")
    assert err.status == 403 and "--role admin" in err.message
    assert _refused(require_role, Principal("a", "ingest", "2", "store"), "read").status == 403
