"""Instants for test data: yesterday at a given time of day (UTC).

Data a test writes must be younger than the tables' retention (TTL, 7 days by default) or ClickHouse
removes it, so a fixed date in a test is a failure waiting for its eighth day. Yesterday is in the
past whatever the time of day, and keeps the clock time a test chose (minute boundaries, hours).
"""
from __future__ import annotations

import datetime as dt

DAY = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def at(hour: int = 0, minute: int = 0, second: int = 0, microsecond: int = 0) -> dt.datetime:
    return DAY.replace(hour=hour, minute=minute, second=second, microsecond=microsecond)


def iso(t: dt.datetime) -> str:
    """``2026-12-01T09:00:00Z``, as the CLI and the API take and give times."""
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
