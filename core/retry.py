"""Retrying with capped exponential backoff and jitter, written once for every loop that retries.

Each caller writes only its operation and says which errors are worth retrying::

    storage = retry(lambda: open_storage(url, schema), is_retryable=retry_on(StorageError, lambda e: e.retryable),
                    stop=stop_event, policy=Backoff(0.5, 15.0), deadline_s=60, on_retry=log_it)

- the waits grow ``initial``, ``2*initial`` … up to ``maximum``, jittered (:class:`Backoff`);
- a wait is a wait on the ``stop`` event, never ``time.sleep``: setting it ends the wait at once
  and ``retry`` raises :class:`Stopped` (with the last error);
- an error ``is_retryable`` calls permanent is raised at once, on any attempt;
- with ``deadline_s`` the last attempt happens at the deadline, and its error is raised;
- ``on_retry(error, attempt, delay)`` is called before each wait (log it, count it).

The loop itself is tenacity's; this module gives it the event-based sleep, the jitter policy and
one shape for every caller.
"""
from __future__ import annotations

import random
import threading
import time
from typing import Callable, TypeVar

import tenacity

T = TypeVar("T")
Classifier = Callable[[BaseException], bool]
RetryHook = Callable[[BaseException, int, float], None]


class Backoff:
    """Waits ``initial``, ``2*initial`` ... up to ``maximum``; each wait is half fixed and half
    random ("equal jitter"), so a fleet of agents does not retry in lockstep yet never spins."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0, rng: random.Random | None = None):
        if initial <= 0 or maximum < initial:
            raise ValueError(f"backoff needs 0 < initial <= maximum, got initial={initial} maximum={maximum}")
        self.initial, self.maximum = initial, maximum
        self.rng = rng or random.Random()

    def delay(self, retry_number: int) -> float:
        """The wait before retry number ``retry_number`` (0 for the first retry)."""
        cap = min(self.maximum, self.initial * (2 ** min(retry_number, 30)))
        return cap / 2 + self.rng.uniform(0, cap / 2)


class Stopped(Exception):
    """The stop event was set while waiting to retry; ``last_error`` is the failure it was waiting on."""

    def __init__(self, last_error: BaseException | None):
        super().__init__(f"stopped while retrying after: {last_error}")
        self.last_error = last_error


def retry_on(*types: type[BaseException], when: Callable[[BaseException], bool] | None = None) -> Classifier:
    """A classifier: errors of ``types`` are retryable (only those for which ``when(error)`` is true, if given)."""
    if not types:
        raise ValueError("retry_on needs at least one exception type, e.g. retry_on(OSError)")
    return lambda exc: isinstance(exc, types) and (when is None or bool(when(exc)))


def retry(op: Callable[[], T], *, is_retryable: Classifier, stop: threading.Event | None = None,
          policy: Backoff | None = None, deadline_s: float | None = None, on_retry: RetryHook | None = None) -> T:
    """``op()``'s result, calling it again after each retryable error (see the module docstring).

    Raises the error of the last attempt when it is permanent or the deadline is reached, and
    :class:`Stopped` when ``stop`` is set while waiting. ``Stopped`` itself and exceptions that are
    not ``Exception`` s (KeyboardInterrupt, SystemExit) are never retried.
    """
    policy = policy or Backoff()
    stop = stop or threading.Event()
    if deadline_s is not None and deadline_s < 0:
        raise ValueError(f"deadline_s must be >= 0 seconds, got {deadline_s}")
    deadline = None if deadline_s is None else time.monotonic() + deadline_s

    def worth_retrying(exc: BaseException) -> bool:
        return isinstance(exc, Exception) and not isinstance(exc, Stopped) and is_retryable(exc)

    def wait(state: tenacity.RetryCallState) -> float:
        delay = policy.delay(state.attempt_number - 1)
        if deadline is not None:  # the last attempt happens at the deadline, not after it
            delay = min(delay, max(0.0, deadline - time.monotonic()))
        return delay

    def at_deadline(state: tenacity.RetryCallState) -> bool:
        return deadline is not None and time.monotonic() >= deadline

    def before_sleep(state: tenacity.RetryCallState) -> None:
        if on_retry is not None:
            on_retry(state.outcome.exception(), state.attempt_number, state.next_action.sleep)

    last: list[BaseException] = []

    def remember(state: tenacity.RetryCallState) -> None:
        last[:] = [state.outcome.exception()]

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise Stopped(last[0] if last else None)

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(worth_retrying), stop=at_deadline, wait=wait, sleep=sleep,
        after=remember, before_sleep=before_sleep, reraise=True,
    )
    return retrying(op)
