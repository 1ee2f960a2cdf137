"""Who a request acts as: a tenant, a role in it, and the key that says so."""
from __future__ import annotations

import dataclasses
from typing import Literal

from stackeye.auth.tenants import DEFAULT_TENANT

READ, ADMIN, INGEST = "read", "admin", "ingest"
API_ROLES = (READ, ADMIN)  # what an API key may grant; ingest tokens only send telemetry
ROLES = (READ, ADMIN, INGEST)

Role = Literal["read", "admin", "ingest"]
Source = Literal["store", "flag", "anonymous"]


@dataclasses.dataclass(frozen=True)
class Principal:
    """``confined``: the caller sees only its tenant's rows. Only the anonymous principal of a
    stackeye without keys is unconfined (one tenant, loopback: everything is its own)."""

    tenant: str
    role: Role
    key_id: str
    source: Source
    confined: bool = True

    def may(self, role: Role) -> bool:
        """An admin may do what a reader may; an ingest token grants no API role."""
        if role == READ:
            return self.role in (READ, ADMIN)
        return self.role == role

    @property
    def actor(self) -> str:
        """How the audit names this caller: ``key:<id>``, ``flag:<id>`` or ``anonymous``."""
        return "anonymous" if self.source == "anonymous" else f"{'key' if self.source == 'store' else 'flag'}:{self.key_id}"


ANONYMOUS = Principal(DEFAULT_TENANT, ADMIN, "", "anonymous", confined=False)
