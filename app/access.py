"""Who may call which API route, in one table, and the storage a caller's queries run on.

Four kinds of access:

- ``OPEN``: anyone who reaches the port (liveness, the API's description).
- ``READ``: a read or admin key; the caller's queries see only its tenant's rows (``request.tenant``,
  :func:`stackeye.storage.tenant_scope.scoped`).
- ``ADMIN``: an admin key; the handler acts on the caller's tenant only (keys).
- ``OPERATOR``: the installation's operator — the admin of tenant ``default`` — or anyone when no key
  is configured (one tenant on loopback). Triggers, events, issues, decisions, policies and /metrics
  are the operator's: they are evaluated over every tenant's data (``docs/security.md``).

A route missing from :data:`ACCESS` is the operator's (closed by default); a contract test holds
every route of ``stackeye up`` to an explicit entry.
"""
from __future__ import annotations

from stackeye.auth.principal import ADMIN, READ, Principal
from stackeye.core.http import HTTPError, Request
from stackeye.storage.tenant_filters import DEFAULT_TENANT

OPEN, OPERATOR = "open", "operator"

ACCESS: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/health"): OPEN,
    ("GET", "/api/v1/openapi.json"): OPEN,
    ("GET", "/api/v1/views"): OPEN,  # the catalogue of views, no data
    ("GET", "/api/v1/views/{name}"): READ,
    ("POST", "/api/v1/sql"): READ,
    ("GET", "/api/v1/keys"): ADMIN,
    ("POST", "/api/v1/keys"): ADMIN,
    ("DELETE", "/api/v1/keys/{id}"): ADMIN,
    ("GET", "/metrics"): OPERATOR,
    ("GET", "/api/v1/triggers"): OPERATOR,
    ("PUT", "/api/v1/triggers"): OPERATOR,
    ("GET", "/api/v1/events"): OPERATOR,
    ("GET", "/api/v1/events/series"): OPERATOR,
    ("GET", "/api/v1/issues"): OPERATOR,
    ("POST", "/api/v1/issues/{fingerprint}/{action}"): OPERATOR,
    ("GET", "/api/v1/decisions/autoscale"): OPERATOR,
    ("POST", "/api/v1/decisions/autoscale"): OPERATOR,
    ("GET", "/api/v1/decisions/routing"): OPERATOR,
    ("POST", "/api/v1/decisions/routing"): OPERATOR,
    ("POST", "/api/v1/decisions/routing/drain"): OPERATOR,
    ("GET", "/api/v1/decisions/history"): OPERATOR,
    ("GET", "/api/v1/policies"): OPERATOR,
    ("PUT", "/api/v1/policies"): OPERATOR,
}


def is_operator(principal: Principal) -> bool:
    return not principal.confined or (principal.tenant == DEFAULT_TENANT and principal.role == ADMIN)


def guard(api_auth):
    """The router guard of ``stackeye up``'s API: sets ``request.principal`` or answers 401/403."""
    def check(req: Request, method: str, pattern: str) -> None:
        access = ACCESS.get((method, pattern), OPERATOR)
        if access == OPEN:
            return
        principal = api_auth.principal(req, ADMIN if access in (ADMIN, OPERATOR) else READ)
        if access == OPERATOR and not is_operator(principal):
            api_auth.rejected.labels(reason="not_operator").inc()
            raise HTTPError(403, f"{method} {pattern} is the operator's (an admin key of tenant "
                                 f"'{DEFAULT_TENANT}'): it spans every tenant", reason="not_operator")
        req.principal = principal
        req.tenant = None if is_operator(principal) else principal.tenant
    return check
