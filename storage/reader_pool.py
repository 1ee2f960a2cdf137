"""A small pool of read-only connections: at most ``size`` queries at once, the rest wait or are refused.

One pool serves the unconfined reader (the operator's SQL, the views of a single-tenant install:
one connection, callers queue as before) and one per tenant (``size`` is that tenant's concurrency
limit; a caller waits at most ``wait_s`` for a free connection, then gets ClickHouse's own
TOO_MANY_SIMULTANEOUS_QUERIES, so one tenant's burst of slow queries cannot hold the others' up).
A connection whose query failed is closed and a fresh one opened next time: chDB leaves a failed
query's partial output in the connection's buffer.
"""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Callable

from stackeye.storage.base import QueryError

TOO_MANY_SIMULTANEOUS_QUERIES = 202


class ReaderPool:
    def __init__(self, open_connection: Callable[[], object], size: int, name: str,
                 wait_s: float | None = None, raised_by: str = ""):
        if size < 1:
            raise ValueError(f"a reader pool needs at least one connection, got {size}")
        self._open = open_connection
        self.size = size
        self.name = name
        self.wait_s = wait_s
        self.raised_by = raised_by
        self._free: list[object] = []
        self._in_use = 0
        self._opened = 0
        self._closed = False
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def connection(self):
        """A connection for one query; on an exception from the block the connection is discarded,
        unless the exception says ``connection_intact`` (refused before anything ran)."""
        conn = self._take()
        keep = False
        try:
            yield conn
            keep = True
        except BaseException as exc:
            keep = bool(getattr(exc, "connection_intact", False))
            raise
        finally:
            self._give_back(conn, keep=keep)

    def _take(self):
        deadline = None if self.wait_s is None else time.monotonic() + self.wait_s
        with self._cond:
            while True:
                if self._closed:
                    raise QueryError("the storage is closed (shutting down)")
                if self._free:
                    self._in_use += 1
                    return self._free.pop()
                if self._opened < self.size:
                    self._opened += 1
                    self._in_use += 1
                    break
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise QueryError(
                        f"{self.name} already runs {self.size} queries at once and none finished within "
                        f"{self.wait_s:g} s: try again shortly, or raise the limit ({self.raised_by or 'the pool size'})",
                        code=TOO_MANY_SIMULTANEOUS_QUERIES)
                self._cond.wait(left)
        try:
            return self._open()
        except BaseException:
            with self._cond:
                self._opened -= 1
                self._in_use -= 1
                self._cond.notify()
            raise

    def _give_back(self, conn, keep: bool) -> None:
        with self._cond:
            self._in_use -= 1
            if keep and not self._closed:
                self._free.append(conn)
                conn = None
            else:
                self._opened -= 1
            self._cond.notify_all()
        if conn is not None:
            _close(conn)

    def close(self) -> None:
        """Wait for the queries running, then close every connection; later queries are refused."""
        with self._cond:
            self._closed = True
            while self._in_use:
                self._cond.wait()
            conns, self._free = self._free, []
            self._opened = 0
        for conn in conns:
            _close(conn)


def _close(conn) -> None:
    try:
        conn.close()
    except Exception:  # already broken: nothing more to release
        pass
