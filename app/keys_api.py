"""HTTP routes of the keys of the caller's tenant, added to ``stackeye up``'s API router by the app.

Every route needs an admin key and sees its own tenant only: another tenant's key is answered
404, the same as a key that does not exist, so no key id of another tenant can be probed.

- ``GET /api/v1/keys`` → ``{"tenant", "keys": [{id, tenant, role, label, created_at, created_by,
  revoked_at, revoked_by}]}`` (never a secret, nor its hash)
- ``POST /api/v1/keys`` ``{"role": "read"|"admin"|"ingest", "label": ""}`` → 201 ``{"key", "secret"}``:
  the secret is shown this once
- ``DELETE /api/v1/keys/{id}`` → ``{"key"}`` (revoked from the next request on; again: unchanged)

Each call is audited (``stackeye_audit``): the list as ``key.list``, the changes as the key file
records them (``key.create``, ``key.revoke``, the caller as actor) by syncing right after.
"""
from __future__ import annotations

import logging

from stackeye.auth.keystore import KeyNotFound, KeyStoreError
from stackeye.auth.principal import ADMIN, ROLES
from stackeye.core.http import HTTPError, Request, Response

log = logging.getLogger("stackeye.app")
MAX_LABEL = 200


def register(router, context) -> None:
    store, audit, auth = context.keystore, context.audit, context.api_auth

    def synced() -> None:
        try:
            audit.sync_keystore(store)
        except Exception as exc:  # the change is made; the periodic sync writes its row later
            log.warning("audit: the key change is not recorded yet (retried): %s", exc)

    @router.route("GET", "/api/v1/keys")
    def list_keys(req: Request) -> Response:
        p = auth.principal(req, ADMIN)
        keys = [k.public() for k in store.keys(p.tenant if p.confined else None)]
        try:
            audit.record(p, "key.list", p.tenant, "", {"keys": len(keys)})
        except Exception as exc:
            log.warning("audit: a key listing is not recorded: %s", exc)
        return Response.json({"tenant": p.tenant, "keys": keys})

    @router.route("POST", "/api/v1/keys")
    def create_key(req: Request) -> Response:
        p = auth.principal(req, ADMIN)
        doc = req.json()
        role, label = doc.get("role"), doc.get("label", "")
        if role not in ROLES:
            raise HTTPError(400, f"role must be one of {', '.join(ROLES)}", parameter="role")
        if not isinstance(label, str) or len(label) > MAX_LABEL:
            raise HTTPError(400, f"label must be a string of at most {MAX_LABEL} characters", parameter="label")
        try:
            key, secret = store.create_key(p.tenant, role, p.actor, label)
        except KeyStoreError as exc:
            raise HTTPError(409, str(exc)) from None
        synced()
        return Response.json({"key": key.public(), "secret": secret}, 201)

    @router.route("DELETE", "/api/v1/keys/{id}")
    def revoke_key(req: Request) -> Response:
        p = auth.principal(req, ADMIN)
        try:
            key = store.revoke(req.params["id"], p.actor, p.tenant if p.confined else None)
        except KeyNotFound:
            raise HTTPError(404, f"no key {req.params['id']!r} in tenant {p.tenant!r}") from None
        synced()
        return Response.json({"key": key.public()})

    context.openapi_paths.update(OPENAPI_PATHS)


_AUTH = {"401": {"description": "missing, bad or revoked API key"}, "403": {"description": "not an admin key"}}
OPENAPI_PATHS = {
    "/api/v1/keys": {
        "get": {"operationId": "keys_list", "summary": "the keys of the caller's tenant (no secrets)",
                "responses": {"200": {"description": "tenant, keys"}, **_AUTH}},
        "post": {"operationId": "keys_create", "summary": "a new key of the caller's tenant; its secret is shown once",
                 "responses": {"201": {"description": "key, secret"}, "400": {"description": "a bad role or label"},
                               **_AUTH}}},
    "/api/v1/keys/{id}": {
        "delete": {"operationId": "keys_revoke", "summary": "revoke a key of the caller's tenant",
                   "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                   "responses": {"200": {"description": "the revoked key"},
                                 "404": {"description": "no such key in the caller's tenant"}, **_AUTH}}},
}
