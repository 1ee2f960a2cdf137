"""Who an API request acts as: :meth:`ApiAuth.principal` turns its ``authorization`` header into
a :class:`~stackeye.auth.principal.Principal`, or answers 401 (missing, bad, revoked key) / 403
(the key's role does not allow the endpoint).

One instance per ``stackeye up`` lives on the app's Context as ``context.api_auth``; every endpoint
that needs a caller asks it first (``p = context.api_auth.principal(req, "admin")``). Refusals are
counted in ``stackeye_api_rejected_requests_total{reason}``.
"""
from __future__ import annotations

from prometheus_client import Counter
from stackeye.auth.credentials import AuthError, Credentials, require_role
from stackeye.auth.principal import READ, Principal
from stackeye.core.http import HTTPError, Request


class ApiAuth:
    def __init__(self, credentials: Credentials, registry=None):
        self.credentials = credentials
        self.rejected = Counter("stackeye_api_rejected_requests", "API requests refused by authentication or role, "
                                "by reason", ["reason"], registry=registry)

    def principal(self, request: Request, role: str = READ) -> Principal:
        """The caller of ``request`` if its key has ``role`` (read: read or admin), else HTTPError."""
        try:
            return require_role(self.credentials.api(request.headers.get("authorization")), role)
        except AuthError as err:
            self.rejected.labels(reason=err.reason).inc()
            raise HTTPError(err.status, err.message, reason=err.reason) from None
