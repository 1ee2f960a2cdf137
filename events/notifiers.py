"""Where events go: Prometheus Alertmanager (API v2), a signed JSON webhook, a log line.

A notifier's :meth:`send` makes one attempt and raises :class:`DeliveryError` when it fails
(``retryable``: a connection error, 5xx or 429; not: another 4xx); retrying, recording and the
outbox are :mod:`stackeye.events.dispatch`'s. What each one sends:

- **alertmanager**: ``POST {url}/api/v2/alerts`` with ``[{labels, annotations, startsAt, endsAt,
  generatorURL}]``. Labels are ``alertname`` (the rule), ``severity``, the rule's ``labels`` and
  the measured label set; a resolved alert carries ``endsAt`` = the time it resolved. A firing one
  carries ``endsAt`` = the time it is sent + 4 × ``resend_every``, and :meth:`AlertmanagerNotifier.refresh` sends
  every firing alert again each ``resend_every`` (as Prometheus does), so Alertmanager's
  ``resolve_timeout`` never resolves an alert that still fires; these refreshes are not events.
- **webhook**: one ``POST`` per event, the JSON of :func:`event_document`, headers
  ``X-Stackeye-Event-Id`` (the same on every retry: a receiver can drop repeats) and
  ``X-Stackeye-Signature: sha256=<hex HMAC-SHA256(secret, body)>`` when a secret is set.
- **log**: ``trigger <rule> <state> {labels} value=<v>`` on the ``stackeye.events`` logger.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from typing import Iterable, Mapping

from stackeye.events.notifier_config import NotifierConfig
from stackeye.events.rules import TriggerRule
from stackeye.events.state import RESOLVED, Alert, Event
from stackeye.events.store import StoredEvent

log = logging.getLogger("stackeye.events")
SIGNATURE_HEADER = "X-Stackeye-Signature"
EVENT_ID_HEADER = "X-Stackeye-Event-Id"
RESEND_EVERY_S = 60.0


class DeliveryError(Exception):
    def __init__(self, message: str, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alert_labels(rule: TriggerRule | None, name: str, severity: str, labels: Mapping[str, str]) -> dict:
    return {**(dict(rule.labels) if rule else {}), **labels, "alertname": name, "severity": severity}


def event_document(stored: StoredEvent, rule: TriggerRule | None) -> dict:
    """The JSON of an event as the webhook (and ``stackeye events --format json``) shows it."""
    e = stored.event
    return {"id": e.id, "rule": e.rule, "state": e.state, "severity": stored.severity,
            "labels": alert_labels(rule, e.rule, stored.severity, e.labels),
            "annotations": dict(rule.annotations) if rule else {}, "value": e.value, "message": e.message,
            "fingerprint": e.fingerprint, "since": _iso(e.since), "at": _iso(e.at)}


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_json(url: str, doc, timeout: float, headers: Mapping[str, str] | None = None) -> None:
    body = json.dumps(doc, separators=(",", ":")).encode()
    _post(url, body, timeout, {"Content-Type": "application/json", **(headers or {})})


def _post(url: str, body: bytes, timeout: float, headers: Mapping[str, str]) -> None:
    req = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read(500).decode("utf-8", "replace").strip()
        raise DeliveryError(f"{url} answered {exc.code}: {detail or exc.reason}",
                            retryable=exc.code >= 500 or exc.code == 429) from None
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"{url}: {getattr(exc, 'reason', exc)}") from None


class LogNotifier:
    def __init__(self, config: NotifierConfig):
        self.config = config

    def send(self, stored: StoredEvent, rule: TriggerRule | None) -> None:
        e = stored.event
        level = logging.WARNING if e.state != RESOLVED else logging.INFO
        log.log(level, "trigger %s %s %s value=%g%s", e.rule, e.state, json.dumps(dict(e.labels), sort_keys=True),
                e.value, f" error={e.message}" if e.message else "")


class WebhookNotifier:
    def __init__(self, config: NotifierConfig):
        self.config = config

    def send(self, stored: StoredEvent, rule: TriggerRule | None) -> None:
        body = json.dumps(event_document(stored, rule), separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", EVENT_ID_HEADER: stored.event.id}
        if self.config.secret:
            headers[SIGNATURE_HEADER] = sign(self.config.secret, body)
        _post(self.config.url, body, self.config.timeout, headers)


class AlertmanagerNotifier:
    def __init__(self, config: NotifierConfig, generator_base: str = "", resend_every_s: float = RESEND_EVERY_S):
        self.config = config
        self.url = config.url.rstrip("/") + "/api/v2/alerts"
        self.generator_base = generator_base.rstrip("/")
        self.resend_every_s = resend_every_s

    def _generator(self, rule: str) -> str:
        return f"{self.generator_base}/api/v1/events?rule={urllib.request.quote(rule)}" if self.generator_base else ""

    def _alert(self, name: str, severity: str, labels: Mapping[str, str], since: dt.datetime, ends: dt.datetime,
               rule: TriggerRule | None, message: str = "") -> dict:
        annotations = dict(rule.annotations) if rule else {}
        if message:
            annotations.setdefault("description", message)
        doc = {"labels": alert_labels(rule, name, severity, labels), "annotations": annotations,
               "startsAt": _iso(since), "endsAt": _iso(ends)}
        if self.generator_base:
            doc["generatorURL"] = self._generator(name)
        return doc

    def document(self, stored: StoredEvent, rule: TriggerRule | None) -> dict:
        e = stored.event
        # a firing alert is valid from when it is sent (an event of a past round sent late is still firing)
        sent = max(e.at, dt.datetime.now(dt.timezone.utc))
        ends = e.at if e.state == RESOLVED else sent + dt.timedelta(seconds=4 * self.resend_every_s)
        return self._alert(e.rule, stored.severity, e.labels, e.since, ends, rule, e.message)

    def send(self, stored: StoredEvent, rule: TriggerRule | None) -> None:
        post_json(self.url, [self.document(stored, rule)], self.config.timeout)

    def refresh(self, firing: Iterable[tuple[Alert, TriggerRule]], at: dt.datetime) -> int:
        """Send every firing alert again (their endsAt pushed on); returns how many."""
        ends = max(at, dt.datetime.now(dt.timezone.utc)) + dt.timedelta(seconds=4 * self.resend_every_s)
        docs = [self._alert(a.rule, rule.severity, a.labels, a.since, ends, rule, a.message) for a, rule in firing]
        if docs:
            post_json(self.url, docs, self.config.timeout)
        return len(docs)


def make(config: NotifierConfig, generator_base: str = ""):
    if config.kind == "alertmanager":
        return AlertmanagerNotifier(config, generator_base)
    if config.kind == "webhook":
        return WebhookNotifier(config)
    return LogNotifier(config)
