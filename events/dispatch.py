"""Delivering events: the outbox in ClickHouse, drained to every notifier with the one retry helper.

An event to notify is stored (``stackeye_events``, Notify = 1) before anything is sent; then
:meth:`Dispatcher.flush` asks the store, per notifier, for the events it has not delivered
(:meth:`~stackeye.events.store.EventStore.undelivered`) and sends them oldest first, each retried
with :func:`stackeye.core.retry.retry` for the notifier's ``retry_for``. Every attempt series is
recorded (``stackeye_event_deliveries``: attempts, outcome, error) right after it ends:

- ``delivered``: done; ``rejected`` (a 4xx): refused for good, never sent again;
- ``failed``: still failing after ``retry_for``; the notifier's remaining events wait too (order
  kept) and the next round — or the next process, after a restart — sends them again.

A notifier takes the events of its ``severities`` (default: all), and deploy events
(:mod:`~stackeye.events.deploys`) only when its ``severities`` name ``info`` explicitly: news, not
an alert.

So nothing to notify is lost across a restart, and what was delivered is not sent again (a crash
between a delivery and its record sends that one event twice: at least once, with the same
``X-Stackeye-Event-Id``).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from typing import Callable, Sequence

from stackeye.core.retry import Backoff, Stopped, retry, retry_on
from stackeye.events.deploys import DEPLOY_RULE
from stackeye.events.notifiers import DeliveryError
from stackeye.events.rules import TriggerRule
from stackeye.events.store import DELIVERED, FAILED, REJECTED, Delivery, EventStore

log = logging.getLogger("stackeye.events")
OUTBOX_MAX_AGE_S = 3600.0  # an event undelivered for longer is given up (it stays in the history)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclasses.dataclass
class DeliveryCounts:
    delivered: int = 0
    failed: int = 0
    rejected: int = 0
    attempts: int = 0


def wants(cfg, stored) -> bool:
    """Whether the notifier of ``cfg`` takes ``stored`` (see the module docstring)."""
    if stored.event.rule == DEPLOY_RULE:
        return stored.severity in cfg.severities
    return not cfg.severities or stored.severity in cfg.severities


class Dispatcher:
    def __init__(self, store: EventStore, notifiers: Sequence, rule_of: Callable[[str], TriggerRule | None],
                 stop: threading.Event | None = None, metrics=None, backoff: Backoff | None = None,
                 max_age_s: float = OUTBOX_MAX_AGE_S):
        self.store, self.notifiers, self.rule_of = store, list(notifiers), rule_of
        self.stop = stop or threading.Event()
        self.metrics = metrics
        self.backoff = backoff or Backoff(0.25, 5.0)
        self.max_age_s = max_age_s
        # (notifier, event id) → when it was delivered or rejected in this process: what the store's
        # reader may not show yet (a read can lag a write on another connection)
        self._done: dict[tuple[str, str], dt.datetime] = {}

    def flush(self, at: dt.datetime | None = None) -> DeliveryCounts:
        """Send every undelivered event to every notifier (see the module docstring)."""
        counts = DeliveryCounts()
        since = min(at or _now(), _now()) - dt.timedelta(seconds=self.max_age_s)
        self._done = {k: t for k, t in self._done.items() if t >= _now() - dt.timedelta(seconds=self.max_age_s)}
        for notifier in self.notifiers:
            cfg = notifier.config
            for stored in self.store.undelivered(cfg.id, since):
                if not wants(cfg, stored) or (cfg.id, stored.event.id) in self._done:
                    continue
                delivery = self._deliver(notifier, stored)
                self.store.record_deliveries([delivery])
                if delivery.outcome != FAILED:
                    self._done[(cfg.id, stored.event.id)] = delivery.at
                counts.attempts += delivery.attempts
                setattr(counts, delivery.outcome, getattr(counts, delivery.outcome) + 1)
                if self.metrics is not None:
                    self.metrics.deliveries.labels(cfg.id, delivery.outcome).inc()
                    self.metrics.attempts.labels(cfg.id).inc(delivery.attempts)
                if delivery.outcome == FAILED:
                    log.error("notifier %s: %s %s not delivered after %d attempts (%s); the outbox keeps it and "
                              "what follows for the next round", cfg.id, stored.event.rule, stored.event.state,
                              delivery.attempts, delivery.error)
                    break
                if delivery.outcome == REJECTED:
                    log.error("notifier %s refused %s %s for good: %s", cfg.id, stored.event.rule,
                              stored.event.state, delivery.error)
        return counts

    def _deliver(self, notifier, stored) -> Delivery:
        attempts = [0]
        rule = self.rule_of(stored.event.rule)

        def once():
            attempts[0] += 1
            notifier.send(stored, rule)

        def on_retry(exc, attempt, delay):
            log.warning("notifier %s: %s (attempt %d, again in %.1fs)", notifier.config.id, exc, attempt, delay)

        outcome, error = DELIVERED, ""
        try:
            retry(once, is_retryable=retry_on(DeliveryError, when=lambda e: e.retryable), stop=self.stop,
                  policy=self.backoff, deadline_s=notifier.config.retry_for, on_retry=on_retry)
        except DeliveryError as exc:
            outcome, error = (FAILED if exc.retryable else REJECTED), str(exc)
        except Stopped as exc:
            outcome, error = FAILED, f"stopped: {exc.last_error}"
        return Delivery(stored.event.id, stored.event.rule, notifier.config.id, _now(), attempts[0], outcome, error)
