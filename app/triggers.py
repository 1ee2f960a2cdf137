"""The triggers inside ``stackeye up --triggers FILE``: the engine, its schedule, the API's handle.

The file is read before anything starts (a bad one exits 2 naming rule and field). A daemon
thread evaluates every rule right after start and then every ``trigger_interval`` (a slow round
delays the next, never overlaps it); a round that fails as a whole (the store refusing the
INSERT) is logged, counted and retried at the next tick — its transitions are found again then,
since the state moves on only once they are stored. ``PUT /api/v1/triggers`` replaces the rules:
validated whole, written to the file, in force from the next round — or refused whole (400).

Metrics: ``stackeye_trigger_rounds_total{outcome}``, ``stackeye_trigger_rule_failures_total{rule}``,
``stackeye_trigger_events_total{state}``, ``stackeye_event_deliveries_total{notifier,outcome}``,
``stackeye_event_delivery_attempts_total{notifier}``, ``stackeye_trigger_round_seconds``,
``stackeye_issue_syncs_total{outcome}``.

Each round starts with the issues' sync (:mod:`stackeye.events.issue_sync`) when one is given: a
new or regressed issue's event is stored then and sent by the round's outbox flush. Then the
process's self-metrics are written (:mod:`stackeye.collector.self_metrics`, read by the
``stackeye_health`` template) and, when given, the deploys seen in spans are recorded
(:mod:`stackeye.events.deploys`). Each of these steps failing is logged and counted
(``stackeye_self_metrics_writes_total{outcome}``, ``stackeye_deploy_scans_total{outcome}``) and
keeps the round going.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any, Mapping

from prometheus_client import Counter, Histogram
from stackeye.core.errors import Fatal
from stackeye.core.periodic import Periodic
from stackeye.events import rule_file
from stackeye.events.engine import TriggerEngine
from stackeye.events.rule_file import TriggerFile

log = logging.getLogger("stackeye.events")


class NoTriggersFile(Fatal):
    """PUT /api/v1/triggers on a stackeye up started without --triggers: nowhere to keep them."""


class TriggerMetrics:
    def __init__(self, registry):
        self.rounds = Counter("stackeye_trigger_rounds", "Evaluation rounds of the trigger rules, by outcome",
                              ["outcome"], registry=registry)
        self.rule_failures = Counter("stackeye_trigger_rule_failures", "Rule evaluations that failed (their SQL, "
                                     "a view parameter)", ["rule"], registry=registry)
        self.events = Counter("stackeye_trigger_events", "Transitions of trigger rules, by state", ["state"],
                              registry=registry)
        self.deliveries = Counter("stackeye_event_deliveries", "Event deliveries to notifiers, by outcome "
                                  "(delivered, failed: retried later, rejected: refused for good)",
                                  ["notifier", "outcome"], registry=registry)
        self.attempts = Counter("stackeye_event_delivery_attempts", "Delivery attempts, retries included",
                                ["notifier"], registry=registry)
        self.issue_syncs = Counter("stackeye_issue_syncs", "Syncs of the issues with the errors view, by outcome",
                                   ["outcome"], registry=registry)
        self.self_metrics = Counter("stackeye_self_metrics_writes", "Writes of the process's self-metrics into "
                                    "ClickHouse, by outcome", ["outcome"], registry=registry)
        self.deploy_scans = Counter("stackeye_deploy_scans", "Scans of the spans for new service versions, by "
                                    "outcome", ["outcome"], registry=registry)
        self.seconds = Histogram("stackeye_trigger_round_seconds", "Time of one round over every rule",
                                 registry=registry, buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))


class TriggerService:
    def __init__(self, storage, registry, triggers: TriggerFile, interval_s: float, generator_base: str = "",
                 issues=None, self_metrics=None, deploys=None):
        self.path = triggers.path
        self.issues = issues  # an IssueSync run first in every round, so its events go out in the same round
        self.self_metrics = self_metrics  # a SelfMetricsWriter, so stackeye_health rules see this round's numbers
        self.deploys = deploys  # a DeployTracker: its events too go out in the same round
        self.metrics = TriggerMetrics(registry)
        self.interval_s = float(interval_s)
        self._loop = Periodic("stackeye-triggers", self.interval_s, self.tick)
        self.engine = TriggerEngine(storage, triggers, generator_base=generator_base, stop=self._loop.stopping,
                                    metrics=self.metrics)
        self._lock = threading.Lock()
        self.ticks = 0

    @property
    def triggers(self) -> TriggerFile:
        return self.engine.triggers

    def start(self) -> None:
        if not self.path:
            return
        log.info("evaluating the %d triggers of %s every %gs (%d notifiers)", len(self.triggers.rules), self.path,
                 self.interval_s, len(self.triggers.notifiers))
        self._loop.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._loop.stop(timeout)

    def tick(self) -> None:
        """One round over every rule; never raises."""
        self.ticks += 1
        started = time.monotonic()
        if self.issues is not None:
            try:
                synced = self.issues.sync(dt.datetime.now(dt.timezone.utc))
            except Exception:
                log.exception("issue sync failed; retrying in %gs", self.interval_s)
                self.metrics.issue_syncs.labels("failed").inc()
            else:
                self.metrics.issue_syncs.labels("ok").inc()
                for s in synced.events:
                    self.metrics.events.labels(s.event.state).inc()
                    log.info("%s", s.event.message)
        self._step("self-metrics write", self.self_metrics, lambda w: w.write(dt.datetime.now(dt.timezone.utc)),
                   self.metrics.self_metrics)
        for event in self._step("deploy scan", self.deploys, lambda d: d.scan(dt.datetime.now(dt.timezone.utc)),
                                self.metrics.deploy_scans) or ():
            self.metrics.events.labels(event.event.state).inc()
            log.info("%s", event.event.message)
        try:
            result = self.engine.evaluate()
        except Exception:
            log.exception("trigger round failed; retrying in %gs", self.interval_s)
            self.metrics.rounds.labels("failed").inc()
            return
        finally:
            self.metrics.seconds.observe(time.monotonic() - started)
        self.metrics.rounds.labels("ok").inc()
        for f in result.failures:
            log.error("trigger %s: evaluation failed: %s", f.rule, f.error)
            self.metrics.rule_failures.labels(f.rule).inc()
        for s in result.events:
            self.metrics.events.labels(s.event.state).inc()
            log.info("trigger %s %s %s", s.event.rule, s.event.state, dict(s.event.labels))

    def _step(self, what: str, part, run, counter):
        """``run(part)`` when ``part`` is given; a failure is logged and counted, never raised."""
        if part is None:
            return None
        try:
            done = run(part)
        except Exception:
            log.exception("%s failed; retrying in %gs", what, self.interval_s)
            counter.labels("failed").inc()
            return None
        counter.labels("ok").inc()
        return done

    def replace(self, doc: Mapping[str, Any]) -> TriggerFile:
        """Validate ``doc`` whole, write it to the triggers file, put it in force."""
        if not self.path:
            raise NoTriggersFile("this stackeye up runs without --triggers FILE, so there is no file to keep the "
                                 "triggers in; restart it with --triggers /etc/stackeye/triggers.toml")
        with self._lock:
            new = rule_file.from_mapping_doc(doc, source="PUT /api/v1/triggers", path=self.path)
            rule_file.save(new, self.path)
            self.engine.replace(new)
        log.info("triggers replaced through the API (%d rules), written to %s", len(new.rules), self.path)
        return new


def load_triggers(path: str) -> TriggerFile:
    return rule_file.load(path) if path else TriggerFile()
