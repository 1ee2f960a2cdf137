"""Capped exponential backoff with jitter, written once for every sender."""
from __future__ import annotations

import random


class Backoff:
    """Waits ``initial``, ``2*initial`` ... up to ``maximum``; each wait is half fixed and half
    random ("equal jitter"), so a fleet of agents does not retry in lockstep yet never spins."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0, rng: random.Random | None = None):
        if initial <= 0 or maximum < initial:
            raise ValueError("backoff needs 0 < initial <= maximum")
        self.initial, self.maximum = initial, maximum
        self.rng = rng or random.Random()
        self.attempt = 0

    def next(self) -> float:
        cap = min(self.maximum, self.initial * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return cap / 2 + self.rng.uniform(0, cap / 2)

    def reset(self) -> None:
        self.attempt = 0
