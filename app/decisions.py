"""The decisions inside ``stackeye up``: one evaluator, its policies, the scheduler, the API's handle.

``stackeye up`` always has an evaluator (the API answers decisions with the policies' defaults
when no ``--policy`` is given); with ``--policy FILE`` the file is read before anything starts (a
bad one exits 2 naming policy, key and field), evaluated every ``decide_interval``, and
``PUT /api/v1/policies`` replaces it: validated whole, written to the file, then in force from the
next evaluation — or refused whole (400) with nothing changed.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Mapping

from stackeye.app.decide_scheduler import DecisionMetrics, DecisionScheduler
from stackeye.core.errors import Fatal
from stackeye.decisions import policy_file
from stackeye.decisions.evaluate import Evaluator
from stackeye.decisions.policy_file import PolicyFile

log = logging.getLogger("stackeye.decisions")


class NoPolicyFile(Fatal):
    """PUT /api/v1/policies on a stackeye up started without --policy: nowhere to keep them."""


def load_policies(path: str) -> PolicyFile:
    """The policies of ``--policy`` (none: an empty file, the defaults answer)."""
    return policy_file.load(path) if path else PolicyFile()


class DecisionService:
    def __init__(self, storage, registry, policies: PolicyFile, interval_s: float):
        self.evaluator = Evaluator(storage, policies)
        self.path = policies.path
        self.metrics = DecisionMetrics(registry)
        self.scheduler = DecisionScheduler(self.evaluator, interval_s, self.metrics) if self.path else None
        self._lock = threading.Lock()

    @property
    def policies(self) -> PolicyFile:
        return self.evaluator.policies

    def start(self) -> None:
        if self.scheduler is not None:
            log.info("evaluating the policies of %s every %gs (%d autoscale, %d routing)", self.path,
                     self.scheduler.interval_s, len(self.policies.keys("autoscale")),
                     len(self.policies.keys("routing")))
            self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()

    def replace_policies(self, doc: Mapping[str, Any]) -> PolicyFile:
        """Validate ``doc`` whole (ConfigError naming policy, key and field), write it to the policy
        file, then put it in force. Raises :class:`NoPolicyFile` when there is no file."""
        if not self.path:
            raise NoPolicyFile("this stackeye up runs without --policy FILE, so there is no file to keep the "
                               "policies in; restart it with --policy /etc/stackeye/policies.toml")
        with self._lock:
            new = policy_file.from_mapping_doc(doc, source="PUT /api/v1/policies", path=self.path)
            policy_file.save(new, self.path)
            self.evaluator.replace_policies(new)
        log.info("policies replaced through the API (%d autoscale, %d routing), written to %s",
                 len(new.keys("autoscale")), len(new.keys("routing")), self.path)
        return new
