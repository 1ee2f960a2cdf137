"""HTTP routes of the query views, registered in query/api.py's ROUTES.

- ``GET /api/v1/views``         → every view: name, summary, parameters, columns
- ``GET /api/v1/views/<name>``  → ``{"view", "rows": [row objects], "from", "to", "limit", "offset",
  "next_offset", "elapsed_ms", …}``; query parameters as the view declares them (``since=15m`` or
  ``from``/``to`` RFC 3339, ``service``, ``limit``, ``offset``, ``sort``, …); 400 with
  ``{"error", "parameter"}`` when one is bad, ``{"error", "limit"}`` when the view's queries go over a
  query limit (the message names the setting that raises it)
- ``GET /api/v1/openapi.json``  → the OpenAPI 3.1 description of the whole API, generated from the
  view registry (never a second copy)
"""
from __future__ import annotations

import dataclasses
import typing

from stackeye.core.http import HTTPError, Request, Response
from stackeye.core.version import __version__
from stackeye.query.views import registry
from stackeye.query.views.params import ParamError
from stackeye.storage.base import QueryError, QueryLimitExceeded
from stackeye.storage.tenant_scope import scoped


def register(router, context) -> None:
    @router.route("GET", "/api/v1/views")
    def views(req: Request) -> Response:
        return Response.json({"views": [describe(v) for v in registry.all_views()]})

    @router.route("GET", "/api/v1/views/{name}")
    def view(req: Request) -> Response:
        return Response.json(run_view(scoped(context.storage, req.tenant), req.params["name"], req.query))

    @router.route("GET", "/api/v1/openapi.json")
    def openapi(req: Request) -> Response:
        return Response.json(openapi_doc(getattr(context, "openapi_paths", None)))


def run_view(storage, name: str, query: dict) -> dict:
    try:
        view = registry.get(name)
    except KeyError as exc:
        raise HTTPError(404, exc.args[0]) from None
    try:
        return view.run_params(storage, view.parse(query)).to_json()
    except ParamError as exc:  # from parsing, or from checks that need several parameters
        raise HTTPError(400, str(exc), parameter=exc.param) from None
    except QueryLimitExceeded as exc:  # the request asks for more than the limits allow: narrow it
        raise HTTPError(400, f"view {name}: {exc}", code=exc.code, limit=exc.limit) from None
    except QueryError as exc:
        raise HTTPError(500, f"view {name} failed: {exc}", code=exc.code) from None


def describe(view) -> dict:
    return {
        "name": view.name, "summary": view.summary, "examples": list(view.examples),
        "parameters": [{"name": p.name, "type": p.json_type, "default": p.default, "help": p.help,
                        **({"choices": list(p.choices)} if p.choices else {}), "required": p.required}
                       for p in view.all_params],
        "columns": view.columns,
    }


def _schema(tp) -> dict:
    origin = typing.get_origin(tp)
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if origin is typing.Union or (args and type(None) in typing.get_args(tp)):
        inner = _schema(args[0])
        return {**inner, "type": [inner["type"], "null"]}
    return {"type": {str: "string", int: "integer", float: "number", dict: "object", list: "array",
                     bool: "boolean"}.get(tp, "string")}


def _row_schema(view) -> dict:
    hints = typing.get_type_hints(view.row)
    return {"type": "object", "properties": {f.name: _schema(hints[f.name]) for f in dataclasses.fields(view.row)},
            "required": [f.name for f in dataclasses.fields(view.row)]}


def openapi_doc(extra_paths: dict | None = None) -> dict:
    """``extra_paths``: the OpenAPI paths of routes registered above the query layer (decisions)."""
    error = {"description": "a bad parameter, or over a query limit", "content": {"application/json": {"schema": {
        "type": "object", "properties": {"error": {"type": "string"}, "parameter": {"type": "string"},
                                         "limit": {"type": "string"}}}}}}
    paths: dict = {
        "/api/v1/health": {"get": {"summary": "status of the pipeline", "responses": {"200": {"description": "ok"}}}},
        "/api/v1/sql": {"post": {
            "summary": "read-only SQL, limited in result rows, execution time, memory and threads",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["query"], "properties": {"query": {"type": "string"}}}}}},
            "responses": {"200": {"description": "columns, types, rows, elapsed_ms"},
                          "400": {"description": "refused (writes, limits, bad SQL)"}}}},
        "/api/v1/views": {"get": {"summary": "the views and their parameters",
                                  "responses": {"200": {"description": "the list"}}}},
    }
    for view in registry.all_views():
        params = [{"name": p.name, "in": "query", "required": p.required, "description": p.help,
                   "schema": {"type": p.json_type, **({"enum": list(p.choices)} if p.choices else {}),
                              **({"default": p.default} if p.default is not None else {})}}
                  for p in view.all_params]
        paths[f"/api/v1/views/{view.name}"] = {"get": {
            "operationId": f"view_{view.name}", "summary": view.summary, "parameters": params,
            "responses": {
                "200": {"description": "the rows", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"rows": {"type": "array", "items": _row_schema(view)},
                                                     "from": {"type": "string"}, "to": {"type": "string"},
                                                     "next_offset": {"type": ["integer", "null"]}}}}}},
                "400": error}}}
    paths.update(extra_paths or {})
    return {"openapi": "3.1.0", "info": {"title": "stackeye API", "version": __version__}, "paths": paths}
