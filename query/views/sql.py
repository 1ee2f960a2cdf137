"""SQL building blocks shared by the views: quoted literals and the span classifications.

Every value that comes from a user goes through :func:`lit` (a ClickHouse string literal with
backslash and quote escaped) or is a validated number, so no parameter can change a query's shape.
Both spellings of kinds and statuses are accepted: ``Server``/``Error`` (current exporters) and
``SPAN_KIND_SERVER``/``STATUS_CODE_ERROR`` (older ones).
"""
from __future__ import annotations

import datetime as dt

from stackeye.query.views.params import Window
from stackeye.storage.migrations import split_clauses


def lit(value: str) -> str:
    """A ClickHouse string literal."""
    s = str(value).replace("\\", "\\\\").replace("'", "\\'").replace("\0", "\\0")
    return f"'{s}'"


def insert_values(table: str, structure: str, rows: list[str]) -> str:
    """``INSERT INTO table (its columns) SELECT * FROM values(structure, rows…)``: the columns named,
    so that a table given more columns (with defaults) later still takes the rows."""
    names = ", ".join(c.split()[0] for c in split_clauses(structure))
    return f"INSERT INTO {table} ({names}) SELECT * FROM values({lit(structure)}, {', '.join(rows)})"


def ts(value: dt.datetime) -> str:
    """A DateTime64(9) literal in UTC."""
    utc = value.astimezone(dt.timezone.utc)
    return f"toDateTime64('{utc.strftime('%Y-%m-%d %H:%M:%S.%f')}', 9, 'UTC')"


def in_window(column: str, window: Window) -> str:
    return f"{column} >= {ts(window.start)} AND {column} < {ts(window.end)}"


def kinds(*names: str) -> str:
    """``SpanKind IN (...)`` for both spellings of each kind."""
    vals = []
    for n in names:
        vals += [lit(n), lit("SPAN_KIND_" + n.upper())]
    return f"SpanKind IN ({', '.join(vals)})"


IS_ERROR = "StatusCode IN ('Error', 'STATUS_CODE_ERROR')"
ENTRY_KIND = kinds("Server", "Consumer")
OUTBOUND_KIND = kinds("Client", "Producer")
IS_ROOT = "ParentSpanId = ''"
HOST_NAME = "ResourceAttributes['host.name']"
HTTP_STATUS = ("toUInt16OrZero(if(SpanAttributes['http.response.status_code'] != '', "
               "SpanAttributes['http.response.status_code'], SpanAttributes['http.status_code']))")
DB_SYSTEM = "SpanAttributes['db.system']"

# route: the HTTP route template with its method when recorded, else the span name.
ROUTE = (
    "if(SpanAttributes['http.route'] != '', "
    "trim(BOTH ' ' FROM concat(SpanAttributes['http.request.method'], SpanAttributes['http.method'], ' ', "
    "SpanAttributes['http.route'])), SpanName)"
)

# peer: server.address:server.port (current conventions), else net.peer.name:net.peer.port.
PEER = (
    "multiIf(SpanAttributes['server.address'] != '', "
    "concat(SpanAttributes['server.address'], if(SpanAttributes['server.port'] != '', "
    "concat(':', SpanAttributes['server.port']), '')), "
    "SpanAttributes['net.peer.name'] != '', "
    "concat(SpanAttributes['net.peer.name'], if(SpanAttributes['net.peer.port'] != '', "
    "concat(':', SpanAttributes['net.peer.port']), '')), "
    "'')"
)

# what a CLIENT/PRODUCER span calls: the queue (messaging.destination.name) for producers, else the peer.
_DEST = "SpanAttributes['messaging.destination.name']"
CALLEE = (
    f"if(SpanKind IN ('Producer', 'SPAN_KIND_PRODUCER') AND {_DEST} != '', concat('queue:', {_DEST}), {PEER})"
)
# what a SERVER/CONSUMER span answers as: the queue for consumers, else its own address:port
# (server.address:server.port, or the older net.host.name:net.host.port).
OWNED = (
    f"multiIf(SpanKind IN ('Consumer', 'SPAN_KIND_CONSUMER') AND {_DEST} != '', concat('queue:', {_DEST}), "
    "SpanAttributes['server.address'] != '', concat(SpanAttributes['server.address'], "
    "if(SpanAttributes['server.port'] != '', concat(':', SpanAttributes['server.port']), '')), "
    "SpanAttributes['net.host.name'] != '', concat(SpanAttributes['net.host.name'], "
    "if(SpanAttributes['net.host.port'] != '', concat(':', SpanAttributes['net.host.port']), '')), "
    "'')"
)

# the statement, normalized: literals replaced by ?, lists collapsed (instrumentation may have done it).
STATEMENT = (
    "normalizeQuery(if(SpanAttributes['db.query.text'] != '', SpanAttributes['db.query.text'], "
    "if(SpanAttributes['db.statement'] != '', SpanAttributes['db.statement'], SpanName)))"
)

# rows returned or affected, when the instrumentation recorded them.
DB_ROWS = (
    "toUInt64OrZero(if(SpanAttributes['db.response.returned_rows'] != '', "
    "SpanAttributes['db.response.returned_rows'], SpanAttributes['db.rows_affected']))"
)

# errors: a span with status Error or an exception event; type and message from its first exception
# event (else the status message); the message fingerprinted (numbers, hex ids, quoted strings → ?).
IS_ERROR_SPAN = f"{IS_ERROR} OR has(`Events.Name`, 'exception')"
_EI = "arrayFirstIndex(n -> n = 'exception', `Events.Name`)"
EXCEPTION_TYPE = f"if({_EI} > 0, `Events.Attributes`[{_EI}]['exception.type'], '')"
_MESSAGE = (f"if({_EI} > 0 AND `Events.Attributes`[{_EI}]['exception.message'] != '', "
            f"`Events.Attributes`[{_EI}]['exception.message'], StatusMessage)")
FINGERPRINT = (
    f"replaceRegexpAll(replaceRegexpAll(replaceRegexpAll({_MESSAGE}, '\\'[^\\']*\\'|\"[^\"]*\"', '?'), "
    "'\\\\b[0-9a-fA-F]{8,}\\\\b|[0-9]+', '?'), '\\\\s+', ' ')"
)

# Apdex thresholds (ms) whose "satisfied" counts the rollups keep; T is served from them when T
# and 4T are both here, from raw spans otherwise.
APDEX_LADDER_MS = (25, 50, 100, 200, 250, 400, 500, 800, 1000, 2000, 4000, 8000)
APDEX_COUNTS = (
    "arrayMap(t -> toUInt64(Duration <= t * 1000000), "
    f"[{', '.join(str(t) for t in APDEX_LADDER_MS)}])"
)


def ms(expr: str) -> str:
    """Nanoseconds → milliseconds, rounded to microseconds."""
    return f"round(({expr}) / 1e6, 3)"


def pct(part: str, whole: str) -> str:
    return f"round(if(({whole}) = 0, 0, 100 * ({part}) / ({whole})), 3)"


def frac(part: str, whole: str) -> str:
    return f"round(if(({whole}) = 0, 0, ({part}) / ({whole})), 6)"


def and_all(*conds: str) -> str:
    parts = [c for c in conds if c]
    return " AND ".join(f"({c})" for c in parts) if parts else "1"
