"""HTTP routes of the issues (error groups and their lifecycle), added to ``stackeye up``'s API router.

- ``GET /api/v1/issues?status=`` → ``{"issues": [...]}``, most recently seen first (``status``:
  new, open, resolved, ignored or regressed; another is a 400);
- ``POST /api/v1/issues/{fingerprint}/{action}`` (``resolve``, ``ignore``, ``reopen``) →
  ``{"issue": {...}}``: 400 for another action, 404 for a fingerprint no issue has.
"""
from __future__ import annotations

import datetime as dt

from stackeye.core.http import HTTPError, Request, Response
from stackeye.events import issues as lifecycle
from stackeye.storage.base import QueryError


def register(router, context) -> None:
    sync = context.issues

    @router.route("GET", "/api/v1/issues")
    def get_issues(req: Request) -> Response:
        status = req.query.get("status") or None
        if status and status not in lifecycle.STATUSES:
            raise HTTPError(400, f"unknown issue status {status!r}: use one of {', '.join(lifecycle.STATUSES)}",
                            parameter="status")
        try:
            found = sync.issues.latest(status=status)
        except QueryError as exc:
            raise HTTPError(500, f"the issues could not be read: {exc}", code=exc.code) from None
        return Response.json({"issues": [lifecycle.document(i) for i in found]})

    @router.route("POST", "/api/v1/issues/{fingerprint}/{action}")
    def post_action(req: Request) -> Response:
        fingerprint, action = req.params["fingerprint"], req.params["action"]
        try:
            issue = sync.act(fingerprint, action, dt.datetime.now(dt.timezone.utc))
        except lifecycle.UnknownAction as exc:
            raise HTTPError(400, str(exc), parameter="action") from None
        if issue is None:
            raise HTTPError(404, f"no issue has fingerprint {fingerprint!r}; `stackeye issues` lists them")
        return Response.json({"issue": lifecycle.document(issue)})

    context.openapi_paths.update(OPENAPI_PATHS)


OPENAPI_PATHS = {
    "/api/v1/issues": {
        "get": {"operationId": "issues", "summary": "error groups and their lifecycle, most recently seen first",
                "parameters": [{"name": "status", "in": "query", "required": False, "schema": {"type": "string"},
                                "description": "new, open, resolved, ignored or regressed"}],
                "responses": {"200": {"description": "issues"}, "400": {"description": "an unknown status"}}}},
    "/api/v1/issues/{fingerprint}/{action}": {
        "post": {"operationId": "issues_action", "summary": "resolve, ignore or reopen an issue",
                 "parameters": [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                                for n in ("fingerprint", "action")],
                 "responses": {"200": {"description": "the issue"}, "400": {"description": "an unknown action"},
                               "404": {"description": "no such issue"}}}},
}
