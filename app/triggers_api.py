"""HTTP routes of the triggers and events, added to ``stackeye up``'s API router by the app.

- ``GET /api/v1/triggers`` → ``{"path", "triggers" (as written), "rules": [{name, severity, for_s,
  every_s, active: [{labels, state, since, value}]}]}``
- ``PUT /api/v1/triggers`` (body: the triggers file as JSON) replaces them: 400 ``{"error",
  "rule", "field"}`` for a bad one, nothing changed; 409 without ``--triggers``
- ``GET /api/v1/events?rule=&state=&severity=&since=&until=&limit=`` → ``{"events": [...]}``,
  newest first, each with its deliveries (``since``: RFC 3339 or ``-DURATION``/``DURATION`` before now)
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from stackeye.app.triggers import NoTriggersFile
from stackeye.core.config import ConfigError
from stackeye.app.audited import audited
from stackeye.core.http import HTTPError, Request, Response
from stackeye.query.views.params import ParamError, parse_duration, parse_time
from stackeye.storage.base import QueryError


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_since(text: str | None, param: str = "since") -> dt.datetime | None:
    """RFC 3339, or a duration before now (``1h`` or ``-1h``)."""
    if not text:
        return None
    if text[0].isdigit() and not any(c in text for c in "T:"):
        return dt.datetime.now(dt.timezone.utc) - parse_duration(text, param)
    if text.startswith("-"):
        return dt.datetime.now(dt.timezone.utc) - parse_duration(text[1:], param)
    return parse_time(text, param)


def rules_document(service) -> dict:
    active = service.engine.active()
    rules = []
    for r in service.triggers.rules:
        alerts = sorted(active.get(r.name, {}).values(), key=lambda a: sorted(a.labels.items()))
        rules.append({"name": r.name, "severity": r.severity, "for_s": r.for_, "every_s": r.every,
                      "active": [{"labels": dict(a.labels), "state": a.state, "since": _iso(a.since),
                                  "value": a.value, "message": a.message} for a in alerts]})
    return {"path": service.path or None, "triggers": _raw(service.triggers.raw), "rules": rules}


def _raw(doc: dict) -> dict:
    return {k: [{("for" if kk == "for_" else kk): vv for kk, vv in t.items()} for t in v] if isinstance(v, list) else v
            for k, v in doc.items()}


def register(router, context) -> None:
    service = context.triggers

    @router.route("GET", "/api/v1/triggers")
    def get_triggers(req: Request) -> Response:
        return Response.json(rules_document(service))

    @router.route("PUT", "/api/v1/triggers")
    def put_triggers(req: Request) -> Response:
        doc = req.json()
        try:
            service.replace(doc)
        except ConfigError as exc:
            parts = (exc.key or "").split(".")
            extra = {"rule": parts[1], "field": ".".join(parts[2:])} if parts[0] == "trigger" and len(parts) > 2 else {}
            raise HTTPError(400, str(exc), **extra) from None
        except NoTriggersFile as exc:
            raise HTTPError(409, str(exc)) from None
        audited(context, req, "triggers.replace", service.path or "", {"rules": len(service.triggers.rules)})
        return Response.json(rules_document(service))

    @router.route("GET", "/api/v1/events")
    def get_events(req: Request) -> Response:
        q = req.query
        try:
            limit = max(1, min(int(q.get("limit") or 1000), 10_000))
            rows = service.engine.store.history(q.get("rule") or None, q.get("state") or None,
                                                q.get("severity") or None, parse_since(q.get("since")),
                                                parse_time(q["until"], "until") if q.get("until") else None, limit)
        except ValueError as exc:
            param = exc.param if isinstance(exc, ParamError) else "limit"
            raise HTTPError(400, str(exc), parameter=param) from None
        except QueryError as exc:
            raise HTTPError(500, f"the events could not be read: {exc}", code=exc.code) from None
        return Response.json({"events": rows})

    @router.route("GET", "/api/v1/events/series")
    def get_event_series(req: Request) -> Response:
        q = req.query
        try:
            until = parse_time(q["until"], "until") if q.get("until") else dt.datetime.now(dt.timezone.utc)
            since = parse_since(q.get("since") or "24h")
            step = parse_duration(q.get("step") or "5m", "step").total_seconds()
            if step < 1:
                raise ParamError("step", "must be at least 1s")
            if since >= until:
                raise ParamError("since", "must be before 'until'")
            if (until - since).total_seconds() / step > 10_000:
                raise ParamError("step", "gives more than 10,000 buckets over the range; take a longer step")
            rows = service.engine.store.series(since, until, int(step), q.get("rule") or None,
                                               q.get("severity") or None)
        except ParamError as exc:
            raise HTTPError(400, str(exc), parameter=exc.param) from None
        except QueryError as exc:
            raise HTTPError(500, f"the events could not be read: {exc}", code=exc.code) from None
        return Response.json({"since": _iso(since), "until": _iso(until), "step_s": int(step), "series": rows})

    context.openapi_paths.update(OPENAPI_PATHS)


OPENAPI_PATHS = {
    "/api/v1/triggers": {
        "get": {"operationId": "triggers_get", "summary": "the trigger rules in force and their active alerts",
                "responses": {"200": {"description": "path, triggers, rules"}}},
        "put": {"operationId": "triggers_put", "summary": "replace the triggers (validated whole, written to the "
                "--triggers file)", "responses": {"200": {"description": "the new rules"},
                                                  "400": {"description": "a bad rule: error, rule, field"},
                                                  "409": {"description": "stackeye up runs without --triggers"}}}},
    "/api/v1/events": {
        "get": {"operationId": "events", "summary": "trigger transitions, newest first, with their deliveries",
                "parameters": [{"name": n, "in": "query", "required": False, "schema": {"type": "string"},
                                "description": d} for n, d in (
                    ("rule", "only this rule"), ("state", "pending, firing, resolved or inactive"),
                    ("severity", "critical, warning or info"), ("since", "RFC 3339 or a duration before now (1h)"),
                    ("until", "RFC 3339"), ("limit", "rows (default 1000)"))],
                "responses": {"200": {"description": "events"}, "400": {"description": "a bad parameter"}}}},
    "/api/v1/events/series": {
        "get": {"operationId": "event_series", "summary": "transitions per rule, state and time bucket (charts)",
                "parameters": [{"name": n, "in": "query", "required": False, "schema": {"type": "string"},
                                "description": d} for n, d in (
                    ("rule", "only this rule"), ("severity", "critical, warning or info"),
                    ("since", "RFC 3339 or a duration before now (default 24h)"), ("until", "RFC 3339 (default now)"),
                    ("step", "bucket length, e.g. 5m (default)"))],
                "responses": {"200": {"description": "since, until, step_s, series"},
                              "400": {"description": "a bad parameter"}}}},
}
