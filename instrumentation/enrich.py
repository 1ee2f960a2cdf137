"""Export-time enrichment: make every span follow the attribute contract, off the request path.

Runs in the batch processor's export thread on each finished span (a shallow copy is changed,
never the original):

- ``db.statement`` / ``db.query.text``: normalized by :func:`.sql.normalize`, both keys set;
- ``db.system`` / ``db.name`` filled from ``db.system.name`` / ``db.namespace`` (and back);
- ``server.address`` / ``server.port`` filled from ``net.peer.name`` / ``net.peer.port``, and
  ``server.port`` from the URL scheme (80/443) when an HTTP client left it out;
- a ``stackeye.callstack`` event (attribute ``stackeye.callstack.frames``): the call tree of a
  slow root span (see :mod:`.callstack`).

>>> from opentelemetry.sdk.trace import ReadableSpan
>>> span = ReadableSpan("SELECT", attributes={"db.statement": "SELECT 1 FROM t WHERE a IN (1,2)",
...                                           "db.system": "sqlite", "net.peer.name": "db", "net.peer.port": 5432})
>>> attrs = Enricher()(span).attributes
>>> attrs["db.query.text"], attrs["server.address"], attrs["server.port"]
('SELECT ? FROM t WHERE a IN (?)', 'db', 5432)
>>> call = ReadableSpan("GET", attributes={"url.full": "https://api.example.com/v1", "server.address": "api.example.com"})
>>> Enricher()(call).attributes["server.port"]
443
"""
from __future__ import annotations

import copy

from opentelemetry.sdk.trace import Event

from .sql import normalize

CALLSTACK_EVENT = "stackeye.callstack"  # read by query/views/callstack_format.py
CALLSTACK_ATTRIBUTE = "stackeye.callstack.frames"

_DEFAULT_PORTS = {"http": 80, "https": 443}
_PAIRS = (("db.system", "db.system.name"), ("db.name", "db.namespace"),
          ("server.address", "net.peer.name"), ("server.port", "net.peer.port"))


class Enricher:
    """Callable span transform; ``callstacks`` is a :class:`.callstack.CallstackProcessor` or None."""

    def __init__(self, callstacks=None):
        self._callstacks = callstacks

    def __call__(self, span):
        attrs = span.attributes
        changes = {}
        stmt = attrs.get("db.query.text") or attrs.get("db.statement") if attrs else None
        if stmt:
            clean = normalize(str(stmt))
            changes["db.statement"] = clean
            changes["db.query.text"] = clean
            for a, b in _PAIRS:
                if a not in attrs and b in attrs:
                    changes[a] = attrs[b]
                elif b not in attrs and a in attrs:
                    changes[b] = attrs[a]
        elif attrs:
            if "server.address" not in attrs and "net.peer.name" in attrs:
                changes["server.address"] = attrs["net.peer.name"]
                if "net.peer.port" in attrs:
                    changes["server.port"] = attrs["net.peer.port"]
            url = attrs.get("url.full") or attrs.get("http.url")
            if url and "server.port" not in attrs and "server.port" not in changes:
                # HTTP clients record server.port only when the URL spells it out
                scheme = str(url).split(":", 1)[0].lower()
                if scheme in _DEFAULT_PORTS:
                    changes["server.port"] = _DEFAULT_PORTS[scheme]
        event = None
        parent = span.parent
        if self._callstacks is not None and (parent is None or parent.is_remote):
            tree = self._callstacks.take(span.context.span_id)
            if tree is not None:
                event = Event(CALLSTACK_EVENT, {CALLSTACK_ATTRIBUTE: tree}, timestamp=span.end_time)
        if not changes and event is None:
            return span
        out = copy.copy(span)
        if event is not None:
            out._events = tuple(span.events) + (event,)
        merged = dict(attrs or {})
        merged.update(changes)
        out._attributes = merged  # ReadableSpan.attributes reads this
        return out
