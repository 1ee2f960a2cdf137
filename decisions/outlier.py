"""Outlier ejection with Envoy's semantics, on the window's calls pooled over every caller.

Three detectors, each Envoy's, over the servers currently serving (not ejected, not drained):

- **consecutive 5xx**: ``consecutive_5xx`` failures in a row at the end of the window eject at once.
- **failure percentage**: a server with at least ``failure_percentage_request_volume`` calls and
  at least ``failure_percentage_threshold`` % of them failed, when at least
  ``failure_percentage_min_hosts`` servers have that volume.
- **success rate**: among the servers with at least ``success_rate_request_volume`` calls, when at
  least ``success_rate_min_hosts`` qualify, one whose success rate is below
  ``mean − success_rate_stdev_factor × σ`` (σ over those servers, as Envoy computes it).

Where stackeye's defaults differ from Envoy's, and why. Envoy leaves failure-percentage detection
off (enforcing 0 %, threshold 85 %, 5 hosts) because each proxy sees only its own few calls; it
relies on the success-rate rule instead. That rule barely catches one bad server in a small set:
with σ taken over n servers, a single outlier is at most √(n − 1) σ below the mean — 2 σ for 5
servers, and only when the other four are identical — so against the 1.9 factor a replica failing
half its calls among five is ejected or not by the noise of its peers. stackeye pools every
caller's calls over the window (hundreds per server), so an absolute failure percentage is a sound
sample even for one server: it is on by default at **20 %, from one
host of 50 calls**. 20 % rather than 50 %: the window dilutes a server that just turned bad (one
failing half its calls shows 20 % twelve seconds into a 30 s window), and a server failing a fifth
of its calls while its peers do not is an outlier worth ejecting. The success-rate rule keeps
Envoy's defaults; it matters for larger sets.

Ejection (Envoy's): an ejected server gets weight 0 for ``base_ejection_time × times ejected``,
capped at ``max_ejection_time`` (the cap is never under the base); ``times ejected`` falls by one for
each ``decay_interval`` the server stays in and healthy. At most ``max_ejection_percent`` % of the
set's servers are ejected at once, but always at least one; when more are found the worst go first
(highest failure rate, then name, so the choice is stable). Pure functions: the caller owns the state.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
from typing import Mapping, Sequence

from stackeye.decisions.model import ServerLoad

CONSECUTIVE, FAILURE_PERCENTAGE, SUCCESS_RATE = "consecutive_5xx", "failure_percentage", "success_rate"


@dataclasses.dataclass(frozen=True)
class Finding:
    """A server a detector wants ejected: the rule, the sentence why, its numbers."""

    server: str
    rule: str
    why: str
    failure_rate: float
    detail: Mapping[str, float] = dataclasses.field(default_factory=dict)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def ejection_seconds(times_ejected: int, settings) -> float:
    """How long the ``times_ejected``-th ejection lasts: base × times, capped (never under the base)."""
    cap = max(settings.base_ejection_time, settings.max_ejection_time)
    return min(settings.base_ejection_time * max(1, times_ejected), cap)


def _rate(load: ServerLoad) -> float:
    return load.errors / load.requests if load.requests else 0.0


def detect(loads: Sequence[ServerLoad], settings) -> dict[str, Finding]:
    """The servers of ``loads`` (those serving) that a detector wants ejected, by server."""
    found: dict[str, Finding] = {}
    if settings.consecutive_5xx > 0:
        for ld in loads:
            if ld.consecutive_5xx >= settings.consecutive_5xx:
                found[ld.server] = Finding(ld.server, CONSECUTIVE, f"{ld.consecutive_5xx} consecutive 5xx",
                                           _rate(ld), {"consecutive_5xx": ld.consecutive_5xx,
                                                       "threshold": settings.consecutive_5xx})
    threshold = settings.failure_percentage_threshold
    volume = [ld for ld in loads if ld.requests >= settings.failure_percentage_request_volume]
    if threshold > 0 and len(volume) >= settings.failure_percentage_min_hosts:
        for ld in volume:
            pct = 100 * _rate(ld)
            if pct >= threshold and ld.server not in found:
                found[ld.server] = Finding(ld.server, FAILURE_PERCENTAGE,
                                           f"{pct:.1f} % of {ld.requests} calls failed (threshold {threshold:g} %)",
                                           _rate(ld), {"failure_pct": round(pct, 3), "threshold_pct": threshold})
    volume = [ld for ld in loads if ld.requests >= settings.success_rate_request_volume]
    if len(volume) >= max(1, settings.success_rate_min_hosts):
        rates = {ld.server: 1.0 - _rate(ld) for ld in volume}
        mean, sd = statistics.fmean(rates.values()), statistics.pstdev(rates.values())
        floor = mean - settings.success_rate_stdev_factor * sd
        for ld in volume:
            if rates[ld.server] < floor and ld.server not in found:
                found[ld.server] = Finding(
                    ld.server, SUCCESS_RATE,
                    f"success rate {100 * rates[ld.server]:.1f} % is below the set's {100 * mean:.1f} % − "
                    f"{settings.success_rate_stdev_factor:g} × {100 * sd:.1f} % = {100 * floor:.1f} %",
                    _rate(ld), {"success_rate": round(rates[ld.server], 6), "mean": round(mean, 6),
                                "stdev": round(sd, 6), "threshold": round(floor, 6)})
    return found


def admit(findings: Mapping[str, Finding], ejected: int, servers: int, settings) -> tuple[list[Finding], list[Finding]]:
    """(ejected now, refused by the cap): worst first while under ``max_ejection_percent`` of
    ``servers`` (``ejected`` are out already), and always one when none is out."""
    order = sorted(findings.values(), key=lambda f: (-f.failure_rate, f.server))
    admitted, refused = [], []
    for f in order:
        if ejected == 0 or 100 * ejected / max(1, servers) < settings.max_ejection_percent:
            admitted.append(f)
            ejected += 1
        else:
            refused.append(f)
    return admitted, refused


def decay(times_ejected: int, healthy_since: float, now: float, settings) -> tuple[int, float]:
    """Envoy's multiplier decay: one off per whole ``decay_interval`` since ``healthy_since``
    (returns the new count and the instant the next interval counts from)."""
    if times_ejected <= 0 or healthy_since <= 0:
        return max(0, times_ejected), healthy_since
    intervals = int(math.floor((now - healthy_since) / settings.decay_interval + 1e-9))
    if intervals <= 0:
        return times_ejected, healthy_since
    used = min(intervals, times_ejected)
    return times_ejected - used, healthy_since + used * settings.decay_interval
