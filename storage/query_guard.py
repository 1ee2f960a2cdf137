"""What a read-only query may be, judged on ClickHouse's own parse of it (``EXPLAIN AST``).

``readonly = 1`` already refuses writes, DDL, ``SETTINGS`` overrides and the table functions that
reach files, URLs or other servers (``file()``, ``url()``, ``remote()``, ``s3()``…). It lets through
what still reaches outside the caller's rows, each measured on chDB 4.4 (ClickHouse 26.9):

- ``merge(db, regexp)``: reads the underlying tables without their ``additional_table_filters``, so
  it would bypass tenant isolation; ``mergeTreeIndex()`` shows the parts of any table.
- the scalar ``file(path)``: returns a local file's contents.
- ``INTO OUTFILE``: in clickhouse-local (chDB) it writes a file on the server's disk.

So a query passes when its statement kind is on :data:`STATEMENT_KINDS`, every table function it
names is on :data:`TABLE_FUNCTIONS`, no function it calls is on :data:`REFUSED_FUNCTIONS` and it
has no ``INTO OUTFILE``. The names come from ClickHouse's parser, not from matching the text, so
quoting, comments, aliases, case and nesting (subqueries, CTEs, lambdas, ``view()``) change nothing.
``EXPLAIN AST`` only parses: nothing of the query runs while it is judged.

Judged: every query of a tenant (views included) and SQL as a user wrote it (``/api/v1/sql``,
``stackeye sql``), whoever sends it. Not judged: the SQL stackeye builds itself for the operator
(views, decisions, triggers), whose text is ours and whose values are quoted; the parse costs
about a millisecond a query (bench/RESULTS.md, "Tenant isolation").
"""
from __future__ import annotations

import dataclasses
import re

# Root node types of EXPLAIN AST by statement: SELECT/WITH/UNION/INTERSECT/EXCEPT, EXPLAIN, SHOW …, DESCRIBE.
STATEMENT_KINDS = ("SelectWithUnionQuery", "SelectIntersectExceptQuery", "Explain", "Show", "Describe")
# EXPLAIN ESTIMATE answers the rows and marks a read would touch: before any tenant filter.
REFUSED_EXPLAIN = ("ESTIMATE",)
# Table functions that compute rows from their arguments only (or from a query that is itself judged).
TABLE_FUNCTIONS = frozenset({
    "numbers", "numbers_mt", "zeros", "zeros_mt", "generate_series", "generateseries", "values", "view",
    "null", "generaterandom", "format",
})
# Functions that read something other than the query's tables (matched in lower case: `FILE` is unknown
# to ClickHouse anyway, but a future alias must not slip through).
REFUSED_FUNCTIONS = frozenset({
    "file", "catboostevaluate", "evalmlmethod", "joinget", "joingetornull", "input",
})
REFUSED_PREFIXES = ("dictget", "dicthas", "dictisin")  # dictionaries may have any source (files, URLs, servers)
_LINE = re.compile(r"^( *)(\S+)(?: (.*))?$")


READONLY, ACCESS_DENIED = 164, 497  # ClickHouse's codes: a write under readonly; a thing the user may not do


class Refused(ValueError):
    """The query is not one this endpoint runs; the message says why and what is allowed; ``code`` is
    the ClickHouse error code a server would answer (READONLY for a statement that writes)."""

    def __init__(self, message: str, code: int = ACCESS_DENIED):
        super().__init__(message)
        self.code = code


@dataclasses.dataclass
class _Node:
    kind: str
    rest: str
    depth: int
    parent: "_Node | None"


def _nodes(ast: str):
    stack: list[_Node] = []
    for line in ast.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        depth = len(m.group(1))
        while stack and stack[-1].depth >= depth:
            stack.pop()
        node = _Node(m.group(2), m.group(3) or "", depth, stack[-1] if stack else None)
        stack.append(node)
        yield node


def check(ast: str) -> None:
    """Raise :class:`Refused` unless the query whose ``EXPLAIN AST`` output is ``ast`` may run."""
    root = None
    for node in _nodes(ast):
        if root is None:
            root = node
            if not node.kind.startswith(STATEMENT_KINDS):
                what = re.sub(r"(?<!^)(?=[A-Z])", " ", node.kind.removesuffix("Query")).upper()
                raise Refused(f"queries here are read-only (readonly = 1): only SELECT, WITH, EXPLAIN, SHOW and "
                              f"DESCRIBE run, not {what}", READONLY)
            if node.kind == "Explain" and any(w in node.rest.split() for w in REFUSED_EXPLAIN):
                raise Refused("EXPLAIN ESTIMATE is not answered here (it counts rows before any filter): "
                              "use EXPLAIN or EXPLAIN PIPELINE, or run the count itself")
            continue
        if node.kind == "Function":
            name = node.rest.split(" ", 1)[0]
            low = name.lower()
            if node.parent is not None and node.parent.kind == "TableExpression":
                if low not in TABLE_FUNCTIONS:
                    raise Refused(f"the table function {name}() is not allowed here; query the tables by name "
                                  f"(allowed table functions: {', '.join(sorted(TABLE_FUNCTIONS))})")
            elif low in REFUSED_FUNCTIONS or low.startswith(REFUSED_PREFIXES):
                raise Refused(f"the function {name}() reads outside the tables and is not allowed here")
        elif node.kind == "Literal" and node.parent is not None and node.parent.kind == "SelectWithUnionQuery":
            raise Refused("INTO OUTFILE is not allowed here: the result comes back in the response")
    if root is None:
        raise Refused("an empty query")
