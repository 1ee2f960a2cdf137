"""Wait until something becomes true: the one polling loop of the tests.

>>> wait_until(lambda: 3, timeout=1)
3
>>> wait_until(lambda: 0, timeout=0.05, interval=0.01, message="never")
Traceback (most recent call last):
...
support.wait.WaitTimeout: never: still not true after 0.05 s (last value: 0)
>>> wait_until(lambda: [], timeout=0.05, interval=0.01, required=False)
[]
"""
from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The predicate stayed false for the whole timeout; ``last`` / ``error`` is what it gave last."""

    def __init__(self, text: str, last: object = None, error: BaseException | None = None):
        super().__init__(text)
        self.last = last
        self.error = error


def wait_until(predicate: Callable[[], T], *, timeout: float, interval: float = 0.1,
               message: str | Callable[[], str] = "condition", ignore: tuple[type[BaseException], ...] = (),
               required: bool = True) -> T:
    """Call ``predicate`` every ``interval`` seconds until it returns something truthy; return that.

    ``ignore``: exceptions that mean "not yet" (e.g. ``OSError`` while a server starts); the last
    one is reported on timeout. Any other exception propagates at once (a predicate that sees its
    process die raises). On timeout: :class:`WaitTimeout` (an ``AssertionError``) naming
    ``message`` (a string, or a callable called then, e.g. for a log tail) and the last value or
    exception seen; with ``required=False`` the last value is returned instead, for a step that
    waits at most ``timeout`` and goes on either way.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    error: BaseException | None = None
    while True:
        try:
            last, error = predicate(), None
        except ignore as exc:
            last, error = None, exc
        if last:
            return last
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    if not required:
        return last
    text = message() if callable(message) else message
    seen = f"last error: {error!r}" if error is not None else f"last value: {last!r}"
    raise WaitTimeout(f"{text}: still not true after {timeout:g} s ({seen})", last, error)
