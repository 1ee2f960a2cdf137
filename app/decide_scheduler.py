"""The decision scheduler of ``stackeye up --policy FILE``: every ``decide_interval``, evaluate and store.

A daemon thread runs :meth:`Evaluator.evaluate` right after start and then on a fixed period
(a slow evaluation delays the next, never overlaps it). Decisions that change something (a
replica count that differs from the current one, a server whose weight, state or breaker moved)
are logged one line each; a failing evaluation — the storage refusing a query, a policy raising —
is logged, counted in ``/metrics`` and retried at the next tick, and the thread goes on.
:meth:`stop` ends it with the process, before the storage closes.

Metrics (Prometheus, on the process's registry):
``stackeye_decisions_total{kind,changed}``, ``stackeye_decision_evaluations_total{kind,outcome}``,
``stackeye_decision_evaluation_seconds``, ``stackeye_decision_last_success_timestamp_seconds``.
"""
from __future__ import annotations

import logging
import time

from prometheus_client import Counter, Gauge, Histogram
from stackeye.core.periodic import Periodic

log = logging.getLogger("stackeye.decisions.scheduler")


class DecisionMetrics:
    def __init__(self, registry):
        self.decisions = Counter("stackeye_decisions", "Decisions made by the scheduler, by policy and whether "
                                 "they change anything", ["kind", "changed"], registry=registry)
        self.evaluations = Counter("stackeye_decision_evaluations", "Scheduled evaluations per policy, by outcome "
                                   "(ok, failed)", ["kind", "outcome"], registry=registry)
        self.seconds = Histogram("stackeye_decision_evaluation_seconds", "Time of one scheduled evaluation of "
                                 "every policy (queries, policies, store)", registry=registry,
                                 buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.last_success = Gauge("stackeye_decision_last_success_timestamp_seconds", "Unix time of the last "
                                  "evaluation that failed nowhere", registry=registry)


class DecisionScheduler:
    def __init__(self, evaluator, interval_s: float, metrics: DecisionMetrics):
        self.evaluator = evaluator
        self.interval_s = float(interval_s)
        self.metrics = metrics
        self.ticks = 0
        self._loop = Periodic("stackeye-decide", self.interval_s, self.tick)

    def start(self) -> None:
        self._loop.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._loop.stop(timeout)

    def tick(self) -> None:
        """One evaluation of every policy; never raises."""
        self.ticks += 1
        started = time.monotonic()
        try:
            result = self.evaluator.evaluate()
        except Exception:  # the whole round failed (e.g. the store): next tick retries
            log.exception("decision evaluation failed; retrying in %gs", self.interval_s)
            self.metrics.evaluations.labels("all", "failed").inc()
            return
        finally:
            self.metrics.seconds.observe(time.monotonic() - started)
        for f in result.failures:
            log.error("%s %s: evaluation failed (retrying in %gs): %s", f.kind, f.key, self.interval_s, f.error)
            self.metrics.evaluations.labels(f.kind, "failed").inc()
        for e in result.evaluations:
            self.metrics.evaluations.labels(e.kind, "ok").inc()
            for o in e.outcomes:
                self.metrics.decisions.labels(e.kind, str(o.changed).lower()).inc()
                if o.changed:
                    log.info("%s %s%s: %s", e.kind, e.key, "" if o.subject == e.key else f" {o.subject}", o.reason)
        if not result.failures:
            self.metrics.last_success.set(time.time())
