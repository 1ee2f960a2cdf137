"""Recording an admin action of the API in stackeye_audit: who (the request's principal), what, when."""
from __future__ import annotations

import logging

from stackeye.auth.principal import ANONYMOUS
from stackeye.core.http import Request

log = logging.getLogger("stackeye.audit")


def audited(context, req: Request, action: str, target: str = "", detail: dict | None = None) -> None:
    """One stackeye_audit row for ``action`` (already done) by ``req``'s caller. A failed write is
    logged, not raised: the action stands, and the log keeps the record."""
    audit = getattr(context, "audit", None)
    if audit is None:
        return
    who = req.principal or ANONYMOUS
    try:
        audit.record(who, action, who.tenant, target, detail)
    except Exception as exc:  # noqa: BLE001 - storage down: say so where an operator looks
        log.warning("audit: could not record %s %s by %s: %s", action, target, who.actor, exc)
