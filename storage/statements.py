"""How many statements a query text holds, read as ClickHouse reads it (quotes, identifiers, comments).

chDB runs every statement of a text and concatenates their answers, so ``SELECT 1; SELECT 2`` came
back as two JSON documents glued together and failed far from its cause. A read-only query is one
statement (a trailing ``;`` is fine); :func:`require_single` says so before anything runs.

>>> require_single("SELECT ';' AS semi; -- the end")
>>> require_single("SELECT 1; SELECT 2")
Traceback (most recent call last):
...
ValueError: one statement per query: a second one starts at character 10 (SELECT 2); send them one at a time
"""
from __future__ import annotations


def _skip_quoted(text: str, i: int, quote: str) -> int:
    """The index just past the quoted run that starts at ``i`` (``\\`` escapes, a doubled quote too)."""
    i += 1
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return i


def _skip_comment(text: str, i: int) -> int | None:
    """The index just past a comment starting at ``i``, or None when none starts there."""
    if text.startswith("--", i) or text.startswith("#", i):
        end = text.find("\n", i)
        return len(text) if end < 0 else end + 1
    if text.startswith("/*", i):
        end = text.find("*/", i + 2)
        return len(text) if end < 0 else end + 2
    return None


def _code_after(text: str, i: int) -> int | None:
    """The index of the first character after ``i`` that is not blank or comment, or None."""
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        skipped = _skip_comment(text, i)
        if skipped is None:
            return i
        i = skipped
    return None


def require_single(text: str) -> None:
    """ValueError when ``text`` holds more than one statement."""
    i = 0
    while i < len(text):
        c = text[i]
        if c in "'\"`":
            i = _skip_quoted(text, i, c)
            continue
        skipped = _skip_comment(text, i)
        if skipped is not None:
            i = skipped
            continue
        if c == ";":
            nxt = _code_after(text, i + 1)
            if nxt is not None:
                preview = text[nxt:nxt + 30].split("\n")[0]
                raise ValueError(f"one statement per query: a second one starts at character {nxt} ({preview}); "
                                 "send them one at a time")
            return
        i += 1
