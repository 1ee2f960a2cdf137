"""A circuit breaker per server, with Sentinel's semantics, on the window's pooled calls.

Three strategies, each on unless its threshold is 0 (Sentinel's DegradeRule grades):

- **slow-call ratio**: the share of calls slower than ``slow_call_ms`` is above ``slow_call_ratio``;
- **error ratio**: the share of failed calls is above ``error_ratio``;
- **error count**: more than ``error_count`` calls failed.

As in Sentinel a threshold must be *exceeded* (a ratio of exactly 1 trips when every call is bad),
and nothing trips with fewer than ``breaker_min_requests`` calls in the window.

States: CLOSED → OPEN when a strategy trips. OPEN lasts ``breaker_open_time``, then the breaker is
HALF_OPEN and the server gets a probe weight (``min_weight``). The next evaluation that sees calls
judges them as the probe: good (no strategy would trip on them, the minimum number waived — a
probe is a handful of calls, one slow call in fifty is not a failed probe) → CLOSED; bad → OPEN
again for another ``breaker_open_time``. With no calls yet the breaker stays HALF_OPEN.

Why ``breaker_open_time`` is at least the window (:func:`stackeye.decisions.routing.validate`
insists): Sentinel counts a probe's single call; here a probe is the window's calls, and those must
all have been made after the breaker opened. An open server gets no calls, so once the open time
covers the window, the half-open evaluation's window holds nothing but the probe.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping

from stackeye.decisions.model import ServerLoad

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The breaker after one evaluation: its state, since when, and why it moved (``""``: it did not)."""

    breaker: str
    since: float  # epoch s of its last transition
    why: str = ""
    detail: Mapping[str, float] = dataclasses.field(default_factory=dict)
    cause: str = ""  # when it opened: what tripped it


def tripped(load: ServerLoad | None, settings, min_requests: int) -> tuple[str, dict]:
    """The first strategy ``load`` trips ("" when none) and the numbers."""
    if load is None or load.requests < max(1, min_requests):
        return "", {}
    n = load.requests
    slow, failed = load.slow_calls / n, load.errors / n
    numbers = {"requests": n, "slow_ratio": round(slow, 4), "error_ratio": round(failed, 4), "errors": load.errors}
    if settings.slow_call_ratio > 0 and (slow > settings.slow_call_ratio or slow >= 1.0):
        return (f"{100 * slow:.0f} % of {n} calls slower than {settings.slow_call_ms:g} ms "
                f"(threshold {100 * settings.slow_call_ratio:g} %)"), numbers | {"threshold": settings.slow_call_ratio}
    if settings.error_ratio > 0 and (failed > settings.error_ratio or failed >= 1.0):
        return (f"{100 * failed:.0f} % of {n} calls failed (threshold {100 * settings.error_ratio:g} %)",
                numbers | {"threshold": settings.error_ratio})
    if settings.error_count > 0 and load.errors > settings.error_count:
        return (f"{load.errors} of {n} calls failed (threshold {settings.error_count})",
                numbers | {"threshold": settings.error_count})
    return "", numbers


def evaluate(breaker: str, since: float, load: ServerLoad | None, settings, now: float) -> Verdict:
    """The breaker of one server as of ``now`` (epoch s), given its calls over the window."""
    open_s = settings.breaker_open_time
    if breaker == OPEN:
        if now >= since + open_s - 1e-9:
            return Verdict(HALF_OPEN, now, f"breaker half-open after {open_s:g} s open", {"open_s": open_s})
        return Verdict(OPEN, since, "", {"open_until": since + open_s})
    if breaker == HALF_OPEN:
        if load is None or load.requests == 0:
            return Verdict(HALF_OPEN, since, "", {})
        why, numbers = tripped(load, settings, 1)
        if why:
            return Verdict(OPEN, now, f"probe failed ({why}): breaker open again for {open_s:g} s",
                           numbers | {"open_until": now + open_s}, f"probe failed: {why}")
        return Verdict(CLOSED, now, f"probe of {load.requests} calls passed: breaker closed", numbers)
    why, numbers = tripped(load, settings, settings.breaker_min_requests)
    if why:
        return Verdict(OPEN, now, f"{why}: breaker open for {open_s:g} s", numbers | {"open_until": now + open_s}, why)
    return Verdict(CLOSED, since, "", numbers)
