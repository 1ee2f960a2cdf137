"""A background thread that calls ``tick()`` every ``interval_s`` seconds until stopped.

The schedulers inside ``stackeye up`` (decision policies, triggers) share this loop: the interval is
measured from the start of one round to the start of the next (a slow round shortens the wait, never
below zero), the first round runs at once, and ``stop()`` waits for the round in progress to end.
``tick`` must not raise: a scheduler logs and counts its own failures.
"""
from __future__ import annotations

import threading
import time
from typing import Callable


class Periodic:
    def __init__(self, name: str, interval_s: float, tick: Callable[[], None]):
        self.name, self.interval_s, self._tick = name, float(interval_s), tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> threading.Event:
        """Set once ``stop()`` is called: a long round (retries, waits) can end early on it."""
        return self._stop

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        delay = 0.0
        while not self._stop.wait(delay):
            started = time.monotonic()
            self._tick()
            delay = max(0.0, self.interval_s - (time.monotonic() - started))
