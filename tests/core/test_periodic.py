"""The schedulers' loop: the first round at once, one per interval, stop waits for the round."""
from __future__ import annotations

import threading

from stackeye.core.periodic import Periodic


def test_rounds_until_stopped():
    rounds, two = [], threading.Event()

    def tick():
        rounds.append(1)
        if len(rounds) >= 2:
            two.set()

    loop = Periodic("test-loop", 0.01, tick)
    loop.start()
    assert two.wait(5)
    loop.stop()
    assert loop.stopping.is_set()
    n = len(rounds)
    assert not two.wait(0.05) or len(rounds) == n  # nothing runs after stop()
