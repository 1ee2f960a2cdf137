"""Self-telemetry counters: what was exported, failed or dropped, readable without any agent.

>>> s = Stats(); s.add("spans_dropped", 3); s.add("spans_dropped")
>>> s.snapshot()["spans_dropped"]
4
"""
from __future__ import annotations

import logging
import threading
from collections import Counter


class Stats:
    """Thread-safe named counters (``<signal>_exported|failed|dropped``, ``instrumentors_failed``...)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter = Counter()

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


STATS = Stats()


class DropCountingMetrics:
    """Stands in for the SDK batch processor's self-metrics: counts drops into :data:`STATS`.

    The SDK's processor calls ``drop_items`` when its bounded queue is full (and logs through a
    duplicate filter, never once per span); we only need the count.
    """

    def __init__(self, signal: str):
        self._name = f"{signal}_dropped"
        self._announced = False

    def register_queue_size(self, get_queue_size) -> None:
        pass

    def drop_items(self, count: int, error_type: str = "queue_full") -> None:
        STATS.add(self._name, count)
        if not self._announced:
            self._announced = True
            logging.getLogger("stackeye.instrumentation").warning(
                "stackeye: %s queue full (agent slow or down); dropping, counted in stackeye.instrumentation.stats()",
                self._name.split("_")[0])

    def finish_items(self, count: int) -> None:
        pass
