"""SQL normalization: the statement shape that groups in views, without the data.

Literals (strings, numbers, booleans, NULL stays), bind markers (``%s``, ``%(name)s``, ``$1``,
``:name``) all become ``?``; lists ``IN (?, ?, ?)`` and multi-row ``VALUES (?, ?), (?, ?)``
collapse to one element; comments go; whitespace collapses. Quoted identifiers are kept.

>>> normalize("SELECT * FROM users WHERE id = 42 AND name = 'O''Brien'")
'SELECT * FROM users WHERE id = ? AND name = ?'
>>> normalize("select a from t where b in (1, 2, 3) and c = %s -- hi")
'select a from t where b in (?) and c = ?'
>>> normalize('INSERT INTO "t1" (a, b) VALUES ($1, $2), ($3, $4)')
'INSERT INTO "t1" (a, b) VALUES (?, ?)'
>>> normalize("UPDATE t SET x = -1.5e3, y = TRUE WHERE z = x'ff' /* c */")
'UPDATE t SET x = ?, y = ? WHERE z = ?'
"""
from __future__ import annotations

import functools
import re

MAX_STATEMENT_CHARS = 4096  # longer statements are cut (after normalization) and marked with "..."

_TOKENS = re.compile(
    r"""
    (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<dollar>\$(?P<tag>[A-Za-z_]*)\$.*?\$(?P=tag)\$)
  | (?P<string>[xXbBnNeE]?'(?:[^'\\]|''|\\.)*')
  | (?P<ident>"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\])
  | (?P<param>%\([A-Za-z_][A-Za-z0-9_]*\)s|%s|\$\d+|(?<![:\w]):[A-Za-z_][A-Za-z0-9_]*|\?)
  | (?P<number>(?<![\w.])[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.]))
  | (?P<bool>\b(?:TRUE|FALSE|true|false|True|False)\b)
  | (?P<space>\s+)
    """,
    re.VERBOSE | re.DOTALL,
)
_IN_LIST = re.compile(r"\b(IN)\s*\(\s*\?(?:\s*,\s*\?)*\s*\)", re.IGNORECASE)
_GROUP = re.compile(r"\(\s*\?(?:\s*,\s*\?)*\s*\)")
_ROWS = re.compile(r"(\(\?(?:, \?)*\))(?:\s*,\s*\1)+")
_SIGNED = re.compile(r"([=<>,(]\s*)[-+]\s*\?")


def _replace(match: re.Match) -> str:
    kind = match.lastgroup
    if kind in ("comment", "space"):
        return " "
    if kind == "ident":
        return match.group(0)
    return "?"


@functools.lru_cache(maxsize=2048)
def normalize(statement: str) -> str:
    """Return ``statement`` with literals and bind markers replaced by ``?`` (cached)."""
    if not statement:
        return ""
    out = _TOKENS.sub(_replace, statement)
    out = " ".join(out.split())
    out = _SIGNED.sub(r"\1?", out)
    out = _IN_LIST.sub(r"\1 (?)", out)
    out = _GROUP.sub(_tidy_group, out)
    out = _ROWS.sub(r"\1", out)
    if len(out) > MAX_STATEMENT_CHARS:
        out = out[: MAX_STATEMENT_CHARS - 3] + "..."
    return out


def _tidy_group(match: re.Match) -> str:
    n = match.group(0).count("?")
    return "(" + ", ".join("?" * n) + ")"
