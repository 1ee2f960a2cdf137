"""The end of a process's log files, for assertion and error messages."""
from __future__ import annotations


def log_tail(*paths: str, n: int = 4000) -> str:
    """The last ``n`` bytes of each file that exists (decoded leniently), joined by newlines.

    A file that is missing or unreadable is left out: the tail is for a message, never a new error.
    """
    out = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - n))
                out.append(f.read().decode(errors="replace"))
        except OSError:
            continue
    return "\n".join(out)
