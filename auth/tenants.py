"""Tenant names: lower-case letters, digits, ``_`` and ``-``, 1 to 63 characters, starting with a
letter or a digit — safe in a file name, a metric label, a SQL literal and a URL as they are."""
from __future__ import annotations

import re

DEFAULT_TENANT = "default"
TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


class BadTenantName(ValueError):
    pass


def check_tenant_name(name: str) -> str:
    """``name`` if it is a valid tenant name, else :class:`BadTenantName` saying what is allowed."""
    if not isinstance(name, str) or not TENANT_NAME.fullmatch(name):
        raise BadTenantName(f"{name!r} is not a tenant name: use 1-63 lower-case letters, digits, '_' or '-', "
                            "starting with a letter or digit (e.g. team-a)")
    return name
