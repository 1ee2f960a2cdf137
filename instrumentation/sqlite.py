"""sqlite3 tracing that also covers the ``Connection.execute()`` shortcuts.

The stock :class:`~opentelemetry.instrumentation.sqlite3.SQLite3Instrumentor` proxies
``connect()`` and the cursors it hands out, but ``conn.execute(...)``, ``conn.executemany(...)``
and ``conn.executescript(...)`` create their cursor inside the C module, so those statements
go untraced. This subclass returns a connection proxy whose shortcuts do what the sqlite3 docs
say they do (``cursor()`` then the cursor method), through the traced cursor. ``db.name`` is the
database file's base name (``:memory:`` for in-memory databases).

>>> import sqlite3
>>> inst = StackeyeSQLite3Instrumentor()
>>> inst.instrument()
>>> conn = sqlite3.connect(":memory:")
>>> conn.execute("SELECT 1").fetchone()   # traced: one CLIENT span "SELECT"
(1,)
>>> inst.uninstrument()
"""
from __future__ import annotations

import os
from typing import Any

from opentelemetry.instrumentation import dbapi
from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
from opentelemetry.instrumentation.sqlite3.version import __version__ as _stock_version

_DATABASE_SYSTEM = "sqlite"


class _Connection(dbapi.TracedConnectionProxy):
    """Traced connection whose execute shortcuts go through a traced cursor."""

    def execute(self, *args: Any, **kwargs: Any):
        cursor = self.cursor()
        cursor.execute(*args, **kwargs)
        return cursor.__wrapped__  # sqlite3 returns the cursor; hand back the real one

    def executemany(self, *args: Any, **kwargs: Any):
        cursor = self.cursor()
        cursor.executemany(*args, **kwargs)
        return cursor.__wrapped__

    def executescript(self, *args: Any, **kwargs: Any):
        cursor = self.cursor()
        real = cursor.__wrapped__
        cursor._self_cursor_tracer.traced_execution(real, real.executescript, *args, **kwargs)
        return real


class _Integration(dbapi.DatabaseApiIntegration):
    def wrapped_connection(self, connect_method, args, kwargs):
        connection = connect_method(*args, **kwargs)
        target = args[0] if args else kwargs.get("database", "")
        self.get_connection_attributes(connection)
        name = os.fspath(target) if target is not None else ""
        self.database = name if name in (":memory:", "") else os.path.basename(str(name))
        if self.database:
            self.name = f"{self.database_system}.{self.database}"
        return _Connection(connection, self)


class StackeyeSQLite3Instrumentor(SQLite3Instrumentor):
    """Drop-in replacement for the stock sqlite3 instrumentor (same entry-point name, ``sqlite3``)."""

    def _instrument(self, **kwargs: Any) -> None:
        for module in self._TO_WRAP:
            dbapi.wrap_connect(
                "opentelemetry.instrumentation.sqlite3", module, "connect", _DATABASE_SYSTEM, {},
                version=_stock_version, tracer_provider=kwargs.get("tracer_provider"),
                db_api_integration_factory=_Integration,
                meter_provider=kwargs.get("meter_provider"),
            )
