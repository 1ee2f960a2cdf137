"""HTTP routes of the decisions, added to ``stackeye up``'s API router by the app (decisions sit above
the query layer, so they are not in ``query/api.py``'s ROUTES).

- ``GET  /api/v1/decisions/autoscale[?service=&at=]`` → ``{"at", "decisions": [row]}``; a row:
  ``service, current_replicas, desired_replicas, limiting_target, reason, recommendations, applied``
- ``GET  /api/v1/decisions/routing?upstream=[&at=]`` → rows ``upstream, server, weight, state,
  breaker, reason, detail``
- ``POST`` on either, body ``{"policies": {...}, "service"/"upstream", "at"}``: the same with the
  given policies instead of the running ones (what ``stackeye decide --policy FILE`` sends)
- ``GET  /api/v1/decisions/history?kind=&key=&since=&until=&changed=&limit=`` → stored decisions,
  newest first
- ``GET  /api/v1/policies`` → ``{"path", "policies" (as written), "resolved" (defaults filled in)}``;
  ``PUT`` replaces them (body: the policy file as JSON): 400 ``{"error", "policy", "key", "field"}``
  for a bad one, nothing changed

Every read evaluates with ``persist=False``: asking never changes what the scheduler decides next.
``at`` is RFC 3339 or ``-DURATION`` before now.
"""
from __future__ import annotations

from stackeye.app.decisions import NoPolicyFile
from stackeye.core.config import ConfigError
from stackeye.app.audited import audited
from stackeye.core.http import HTTPError, Request, Response
from stackeye.decisions import codec, policy_file
from stackeye.decisions.evaluate import Evaluator, parse_at
from stackeye.query.views.params import ParamError, parse_time
from stackeye.storage.base import QueryError

AUTOSCALE_COLUMNS = ["service", "current_replicas", "desired_replicas", "limiting_target", "reason"]
ROUTING_COLUMNS = ["upstream", "server", "weight", "state", "breaker", "reason"]


def register(router, context) -> None:
    service = context.decisions

    def evaluator(policies_doc) -> Evaluator:
        if policies_doc is None:
            return service.evaluator
        return Evaluator(context.storage, policy_file.from_mapping_doc(policies_doc, source="request policies"))

    def autoscale(query: dict, policies_doc=None) -> Response:
        at = parse_at(query.get("at"))
        rows = evaluator(policies_doc).autoscale(query.get("service") or None, at=at, persist=False)
        return Response.json({"at": _iso(at), "decisions": [codec.encode(d) for d in rows]})

    def routing(query: dict, policies_doc=None) -> Response:
        upstream = query.get("upstream")
        if not upstream:
            raise HTTPError(400, "parameter 'upstream' is required: the upstream set, e.g. ?upstream=checkout",
                            parameter="upstream")
        at = parse_at(query.get("at"))
        rows = evaluator(policies_doc).routing(upstream, at=at, persist=False)
        return Response.json({"at": _iso(at), "decisions": [codec.encode(d) for d in rows]})

    @router.route("GET", "/api/v1/decisions/autoscale")
    def get_autoscale(req: Request) -> Response:
        return _answer(lambda: autoscale(req.query))

    @router.route("POST", "/api/v1/decisions/autoscale")
    def post_autoscale(req: Request) -> Response:
        body = req.json()
        return _answer(lambda: autoscale(body, _policies(body)))

    @router.route("GET", "/api/v1/decisions/routing")
    def get_routing(req: Request) -> Response:
        return _answer(lambda: routing(req.query))

    @router.route("POST", "/api/v1/decisions/routing")
    def post_routing(req: Request) -> Response:
        body = req.json()
        return _answer(lambda: routing(body, _policies(body)))

    @router.route("POST", "/api/v1/decisions/routing/drain")
    def post_drain(req: Request) -> Response:
        body = req.json()

        def run():
            if not isinstance(body, dict):
                raise HTTPError(400, 'expected a JSON object: {"upstream": …, "server": …, "drained": true}')
            for name in ("upstream", "server"):
                if not isinstance(body.get(name), str) or not body.get(name):
                    raise HTTPError(400, f"{name!r} is required: a non-empty string", parameter=name)
            drained = body.get("drained", True)
            if not isinstance(drained, bool):
                raise HTTPError(400, "'drained' is true (take the server out) or false (put it back)",
                                parameter="drained")
            state = service.evaluator.drain(body["upstream"], body["server"], drained)
            audited(context, req, "routing.drain" if drained else "routing.undrain", f"{body['upstream']}/{body['server']}")
            return Response.json({"upstream": body["upstream"], "server": body["server"], "drained": state.drained})
        return _answer(run)

    @router.route("GET", "/api/v1/decisions/history")
    def history(req: Request) -> Response:
        def run():
            q = req.query
            kind = q.get("kind") or "autoscale"
            try:
                limit = int(q.get("limit") or 1000)
            except ValueError:
                raise ParamError("limit", f"{q['limit']!r} is not an integer") from None
            rows = service.evaluator.history(
                kind, q.get("key") or None, parse_at(q.get("since"), param="since"),
                parse_time(q["until"], "until") if q.get("until") else None,
                q.get("changed", "").lower() in ("1", "true", "yes"), max(1, min(limit, 10_000)))
            return Response.json({"kind": kind, "rows": rows})
        return _answer(run)

    @router.route("GET", "/api/v1/policies")
    def get_policies(req: Request) -> Response:
        p = service.policies
        return Response.json({"path": p.path or None, "policies": p.raw, "resolved": p.resolved()})

    @router.route("PUT", "/api/v1/policies")
    def put_policies(req: Request) -> Response:
        doc = req.json()
        try:
            new = service.replace_policies(doc)
        except ConfigError as exc:
            raise HTTPError(400, str(exc), **_where(exc.key)) from None
        except NoPolicyFile as exc:
            raise HTTPError(409, str(exc)) from None
        except OSError as exc:  # written before it is put in force: nothing changed
            raise HTTPError(500, f"cannot write the policy file {service.path}: {exc}; the policies in force "
                                 "are unchanged") from None
        audited(context, req, "policies.replace", new.path or "", {"policies": sorted(new.raw)})
        return Response.json({"path": new.path, "policies": new.raw, "resolved": new.resolved()})

    context.openapi_paths.update(OPENAPI_PATHS)


def _policies(body: dict):
    doc = body.get("policies")
    if doc is None:
        raise HTTPError(400, 'the body must carry the policy file as JSON: {"policies": {"autoscale": {...}}}',
                        parameter="policies")
    return doc


def _where(key: str) -> dict:
    """``autoscale.checkout.min_replicas`` → policy, key, field (what a 400 names)."""
    parts = key.split(".") if key else []
    out = {}
    if parts:
        out["policy"] = parts[0]
    if len(parts) >= 2:
        out["key"] = ".".join(parts[1:-1]) if len(parts) > 2 else parts[1]
    if len(parts) >= 3:
        out["field"] = parts[-1]
    return out


def _answer(run) -> Response:
    try:
        return run()
    except ParamError as exc:
        raise HTTPError(400, str(exc), parameter=exc.param) from None
    except ConfigError as exc:  # policies sent with a POST
        raise HTTPError(400, str(exc), **_where(exc.key)) from None
    except KeyError as exc:  # an unknown policy kind or routing source
        raise HTTPError(400, str(exc.args[0]) if exc.args else str(exc)) from None
    except QueryError as exc:
        raise HTTPError(500, f"the decision inputs could not be read: {exc}", code=exc.code) from None


def _iso(at) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at else None


def _rows_schema(columns: list[str]) -> dict:
    return {"type": "object", "properties": {"at": {"type": ["string", "null"]}, "decisions": {
        "type": "array", "items": {"type": "object", "required": columns,
                                   "properties": {c: {} for c in columns}}}}}


_AT = {"name": "at", "in": "query", "required": False,
       "description": "evaluate as of this instant: RFC 3339 or -DURATION before now (default: now)",
       "schema": {"type": "string"}}
_BAD = {"description": "a bad parameter or policy", "content": {"application/json": {"schema": {
    "type": "object", "properties": {"error": {"type": "string"}, "parameter": {"type": "string"},
                                     "policy": {"type": "string"}, "key": {"type": "string"},
                                     "field": {"type": "string"}}}}}}
OPENAPI_PATHS = {
    "/api/v1/decisions/autoscale": {
        "get": {"operationId": "decisions_autoscale", "summary": "desired replicas per service, and why",
                "parameters": [{"name": "service", "in": "query", "required": False, "schema": {"type": "string"},
                                "description": "only this service"}, _AT],
                "responses": {"200": {"description": "one decision per service", "content": {
                    "application/json": {"schema": _rows_schema(AUTOSCALE_COLUMNS)}}}, "400": _BAD}},
        "post": {"operationId": "decisions_autoscale_with", "summary": "the same with the policies in the body "
                 "(nothing stored)", "responses": {"200": {"description": "one decision per service"}, "400": _BAD}}},
    "/api/v1/decisions/routing": {
        "get": {"operationId": "decisions_routing", "summary": "weight, state and breaker per server of an upstream",
                "parameters": [{"name": "upstream", "in": "query", "required": True, "schema": {"type": "string"},
                                "description": "the upstream set (a [routing.<upstream>] key)"}, _AT],
                "responses": {"200": {"description": "one decision per server", "content": {
                    "application/json": {"schema": _rows_schema(ROUTING_COLUMNS)}}}, "400": _BAD}},
        "post": {"operationId": "decisions_routing_with", "summary": "the same with the policies in the body "
                 "(nothing stored)", "responses": {"200": {"description": "one decision per server"}, "400": _BAD}}},
    "/api/v1/decisions/routing/drain": {
        "post": {"operationId": "decisions_routing_drain", "summary": "take a server out of routing (drained: "
                 "weight 0 until undrained) or put it back",
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["upstream", "server"], "properties": {
                         "upstream": {"type": "string", "minLength": 1}, "server": {"type": "string", "minLength": 1},
                         "drained": {"type": "boolean", "default": True}}}}}},
                 "responses": {"200": {"description": "upstream, server, drained"}, "400": _BAD}}},
    "/api/v1/decisions/history": {
        "get": {"operationId": "decisions_history", "summary": "stored decisions, newest first",
                "parameters": [{"name": n, "in": "query", "required": False, "schema": {"type": "string"},
                                "description": d} for n, d in (
                    ("kind", "autoscale (default) or routing"), ("key", "a service or upstream"),
                    ("since", "RFC 3339 or -DURATION"), ("until", "RFC 3339"),
                    ("changed", "true: only decisions that change something"), ("limit", "rows (default 1000)"))],
                "responses": {"200": {"description": "kind, rows"}, "400": _BAD}}},
    "/api/v1/policies": {
        "get": {"operationId": "policies_get", "summary": "the policies in force (as written, and resolved)",
                "responses": {"200": {"description": "path, policies, resolved"}}},
        "put": {"operationId": "policies_put", "summary": "replace the policies (validated whole, written to the "
                "--policy file)", "responses": {"200": {"description": "the new policies"}, "400": _BAD,
                                                 "409": {"description": "stackeye up runs without --policy"}}}},
}
