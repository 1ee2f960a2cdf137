"""Replaying stored history through a policy: what it would have decided at each step, and why.

:func:`backtest` walks ``[start, end]`` in ``step`` increments; at each instant the Evaluator
decides as of it (``at=``, ``persist=False``: nothing is written, the policy's state is carried in
memory from step to step, as the scheduler would have carried it), and the inputs it read give the
timeline's load, replicas and p95. :func:`changes` keeps the steps where a decision changed (with its
reason) — the printed timeline; :func:`series` is the plot's.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Callable, Iterable

from stackeye.core.errors import Fatal
from stackeye.decisions.plot import Series
from stackeye.query.views.params import ParamError, parse_duration, parse_time

MAX_STEPS = 20_000


@dataclasses.dataclass(frozen=True)
class Step:
    at: dt.datetime
    load_rps: float | None  # requests/s the policy saw over its window
    replicas: int | None  # autoscale: live replicas; routing: active servers
    p95_ms: float | None  # autoscale: the fleet's; routing: the worst server's
    decisions: tuple  # the policy's decisions at this instant
    outcome: object  # what is compared between steps: desired replicas, or each server's (weight, state, breaker)
    reason: str


def instant(text: str, now: dt.datetime, flag: str) -> dt.datetime:
    """``now``, ``-24h`` (before now) or an RFC 3339 time."""
    text = str(text).strip()
    try:
        if text == "now":
            return now
        if text.startswith("-"):
            return now - parse_duration(text[1:], flag)
        return parse_time(text, flag)
    except ParamError as exc:
        raise Fatal(f"{flag}: {exc.reason}; use now, -24h or an RFC 3339 time like 2026-11-26T10:00:00Z") from None


def instants(start: dt.datetime, end: dt.datetime, step_s: float) -> list[dt.datetime]:
    if step_s <= 0:
        raise Fatal(f"--step must be positive (got {step_s:g} s)")
    if end <= start:
        raise Fatal(f"--from ({start:%Y-%m-%dT%H:%M:%SZ}) must be before --to ({end:%Y-%m-%dT%H:%M:%SZ})")
    n = int((end - start).total_seconds() // step_s) + 1
    if n > MAX_STEPS:
        raise Fatal(f"{n} steps from --from to --to at --step {step_s:g}s: at most {MAX_STEPS}; use a longer --step "
                    "or a shorter range")
    return [start + dt.timedelta(seconds=i * step_s) for i in range(n)]


def outcome(kind: str, decisions: Iterable) -> object:
    decisions = list(decisions)
    if kind == "autoscale":
        return tuple((d.service, d.desired_replicas) for d in decisions)
    return tuple(sorted((d.server, d.weight, d.state, d.breaker) for d in decisions))


def backtest(kind: str, times: list[dt.datetime], evaluate: Callable[[dt.datetime], tuple[list, object]],
             progress: Callable[[int, int], None] | None = None) -> list[Step]:
    """``evaluate(at) -> (decisions, (requests/s, replicas, p95 ms))``: the Evaluator as of ``at``,
    carrying its state (:class:`stackeye.decisions.replay.Replay`)."""
    steps = []
    for i, at in enumerate(times):
        decisions, (load, replicas, p95) = evaluate(at)
        reason = "; ".join(f"{_who(kind, d)}: {d.reason}" for d in decisions) or "no input rows: nothing to decide"
        steps.append(Step(at, load, replicas, p95, tuple(decisions), outcome(kind, decisions), reason))
        if progress:
            progress(i + 1, len(times))
    return steps


def _who(kind: str, d) -> str:
    return f"{d.service} {d.current_replicas}→{d.desired_replicas}" if kind == "autoscale" else \
        f"{d.server} {d.state} w={d.weight} breaker={d.breaker}"


def changes(steps: list[Step]) -> list[Step]:
    """The first step and every step whose outcome differs from the one before."""
    out, last = [], object()
    for s in steps:
        if s.outcome != last:
            out.append(s)
        last = s.outcome
    return out


def series(steps: list[Step], title: str, slo_ms: float | None) -> Series:
    return Series(title, [s.at for s in steps], [s.load_rps for s in steps],
                  [_desired(s) for s in steps], [s.p95_ms for s in steps], slo_ms, x_label="time (UTC)")


def _desired(s: Step):
    if s.decisions and hasattr(s.decisions[0], "desired_replicas"):
        return s.decisions[0].desired_replicas
    return s.replicas
