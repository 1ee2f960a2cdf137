"""A storage seen by one tenant: its queries run read-only on that tenant's confined connections."""
from __future__ import annotations

from stackeye.storage.base import QueryError


class TenantStorage:
    def __init__(self, storage, tenant: str):
        self._storage = storage
        self.tenant = tenant

    def query(self, sql: str, *, readonly: bool = True, limits=None, untrusted: bool = True):
        """Always judged (:mod:`.query_guard`): every query of a tenant is."""
        if not readonly:
            raise QueryError("a tenant's queries are read-only", code=164)
        return self._storage.query(sql, limits=limits, tenant=self.tenant)


def scoped(storage, tenant: str | None):
    """``storage`` itself for an unconfined caller (``tenant`` None), else its view for ``tenant``."""
    return storage if tenant is None else TenantStorage(storage, tenant)
