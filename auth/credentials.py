"""One resolver of the ``authorization`` header, for ingest and for the API.

Credentials come from the key file (:class:`~stackeye.auth.keystore.KeyStore`: hashed, revocable
while the server runs) and from flags: ``--token TOKEN[=TENANT]`` (ingest) and ``--api-key
KEY=TENANT[:read|admin]`` (API, read by default). An ingest token is never an API key and an API
key never an ingest token, whichever way it was given.

Auth is on as soon as a credential exists: ingest when a token flag is given or the key file
holds a tenant, the API when an API key flag is given or the key file holds a tenant (a tenant
comes with its keys; counting tenants, not live keys, means revoking the last key never opens the
door). With nothing configured, ingest is tenant ``default`` (or the ``x-stackeye-tenant`` header)
and the API caller is the anonymous, unconfined admin of ``default``: the single-team stackeye on
loopback.
"""
from __future__ import annotations

import dataclasses
import hmac

from stackeye.auth import secrets as se
from stackeye.auth.keystore import KeyStore
from stackeye.auth.principal import ADMIN, ANONYMOUS, API_ROLES, INGEST, READ, Principal
from stackeye.auth.tenants import DEFAULT_TENANT, BadTenantName, check_tenant_name
from stackeye.core.config import ConfigError

MISSING, BAD, REVOKED = "unauthenticated", "bad_token", "revoked_token"  # reasons (rejected-request labels)


class AuthError(Exception):
    """A refused request: ``status`` 401 (missing, bad or revoked credentials) or 403 (the role
    does not allow it); ``reason`` labels the rejected counter."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


@dataclasses.dataclass(frozen=True)
class FlagCredential:
    secret: str
    tenant: str
    role: str

    @property
    def key_id(self) -> str:
        """Names the flag in the audit without revealing it: the start of its hash."""
        return se.digest(self.secret)[:8]


def parse_token_flags(specs) -> list[FlagCredential]:
    """``--token TOKEN`` or ``TOKEN=TENANT``."""
    found = []
    for spec in specs:
        token, _, tenant = spec.partition("=")
        if not token:
            raise ConfigError("tokens", f"{spec!r} has an empty token: use TOKEN or TOKEN=TENANT")
        found.append(FlagCredential(token, _tenant("tokens", tenant or DEFAULT_TENANT), INGEST))
    return found


def parse_api_key_flags(specs) -> list[FlagCredential]:
    """``--api-key KEY=TENANT`` or ``KEY=TENANT:read|admin`` (read by default)."""
    found = []
    for spec in specs:
        key, _, rest = spec.rpartition("=")
        tenant, _, role = rest.partition(":")
        if not key or not tenant:
            raise ConfigError("api_keys", f"{spec!r} is not KEY=TENANT[:read|admin] (e.g. s3cret=team-a:admin)")
        if (role or READ) not in API_ROLES:
            raise ConfigError("api_keys", f"{spec!r} names the role {role!r}: an API key is read or admin")
        found.append(FlagCredential(key, _tenant("api_keys", tenant), role or READ))
    return found


def _tenant(setting: str, name: str) -> str:
    try:
        return check_tenant_name(name)
    except BadTenantName as exc:
        raise ConfigError(setting, str(exc)) from None


def bearer(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").strip().partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


class Credentials:
    def __init__(self, store: KeyStore | None = None, tokens=(), api_keys=()):
        self.store = store
        self._tokens = parse_token_flags(tokens)
        self._api_keys = parse_api_key_flags(api_keys)

    @property
    def _store_in_use(self) -> bool:
        return self.store is not None and bool(self.store.tenants())

    @property
    def ingest_enabled(self) -> bool:
        return bool(self._tokens) or self._store_in_use

    @property
    def api_enabled(self) -> bool:
        return bool(self._api_keys) or self._store_in_use

    def ingest(self, authorization: str | None, tenant_header: str | None = None) -> str:
        """The tenant an ingest request writes to, or :class:`AuthError` (401)."""
        if not self.ingest_enabled:
            return tenant_header or DEFAULT_TENANT
        secret = bearer(authorization)
        if secret is None:
            raise AuthError(401, MISSING, "missing credentials: send the header 'authorization: Bearer <token>'")
        for flag in self._tokens:
            if hmac.compare_digest(flag.secret.encode(), secret.encode()):
                return flag.tenant
        if any(hmac.compare_digest(f.secret.encode(), secret.encode()) for f in self._api_keys):
            raise AuthError(401, BAD, "the token was not accepted: it is an API key; ingest takes an ingest token "
                                      "(stackeye keys create --tenant T --role ingest)")
        key = self._stored(secret, se.INGEST_KIND, "an API key; ingest takes an ingest token "
                                                   "(stackeye keys create --tenant T --role ingest)")
        return key.tenant

    def api(self, authorization: str | None) -> Principal:
        """Who an API request acts as, or :class:`AuthError` (401)."""
        if not self.api_enabled:
            return ANONYMOUS
        secret = bearer(authorization)
        if secret is None:
            raise AuthError(401, MISSING, "missing credentials: send the header 'authorization: Bearer <API key>' "
                                          "(stackeye keys create --tenant T --role read)")
        for flag in self._api_keys:
            if hmac.compare_digest(flag.secret.encode(), secret.encode()):
                return Principal(flag.tenant, flag.role, flag.key_id, "flag")
        if any(hmac.compare_digest(f.secret.encode(), secret.encode()) for f in self._tokens):
            raise AuthError(401, BAD, "the key was not accepted: it is an ingest token; the API takes an API key "
                                      "(stackeye keys create --tenant T --role read)")
        key = self._stored(secret, se.API_KIND, "an ingest token; the API takes an API key "
                                                "(stackeye keys create --tenant T --role read)")
        return Principal(key.tenant, key.role, key.id, "store")

    def _stored(self, secret: str, kind: str, other_kind: str):
        parsed = se.parse(secret)
        key = self.store.key(parsed.key_id) if parsed and self.store is not None else None
        if key is None or not se.verify(secret, key.sha256):
            raise AuthError(401, BAD, "the token was not accepted by this collector" if kind == se.INGEST_KIND
                            else "the API key was not accepted by this stackeye")
        if parsed.kind != kind or key.kind != kind:
            raise AuthError(401, BAD, f"the {'token' if kind == se.INGEST_KIND else 'key'} was not accepted: "
                                      f"it is {other_kind}")
        if key.revoked:
            raise AuthError(401, REVOKED, f"the {'token' if kind == se.INGEST_KIND else 'API key'} {key.id} was "
                                          f"revoked at {key.revoked_at} by {key.revoked_by}; create a new one: "
                                          f"stackeye keys create --tenant {key.tenant} --role "
                                          f"{key.role}")
        return key


def require_role(principal: Principal, role: str) -> Principal:
    """``principal`` if its role allows ``role``, else :class:`AuthError` 403."""
    if not principal.may(role):
        raise AuthError(403, "forbidden", f"this needs the {role} role in tenant {principal.tenant!r}; the key "
                                          f"{principal.key_id} has {principal.role}"
                                          + (" (create one: stackeye keys create --tenant "
                                             f"{principal.tenant} --role admin)" if role == ADMIN else ""))
    return principal
