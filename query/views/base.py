"""What a view is: typed parameters, SQL, typed rows, and how to run it on any SQL source.

A source is anything with ``.query(sql) -> QueryResult`` (columns, rows): the embedded chDB
storage, a ClickHouse server client, or the HTTP API's ``/api/v1/sql``. Usage::

    from stackeye.query.views import registry
    result = registry.get("services").run(storage, since="1h", service="checkout")
    for row in result.rows: print(row.service, row.p95_ms)
    result.to_json()  # {"view": "services", "rows": [...], ...}
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import Any, Callable, Mapping, Protocol

from stackeye.query.views.params import (
    TIME_PARAMS,
    Param,
    ParamError,
    Params,
    parse_params,
)


class Source(Protocol):
    def query(self, sql: str) -> Any:
        """Returns an object with ``columns`` and ``rows`` (lists)."""


@dataclasses.dataclass(frozen=True)
class ViewResult:
    view: str
    params: Params
    rows: list  # of the view's row dataclass
    sql: list[str]
    elapsed_ms: float
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # e.g. service_map's nodes

    def dicts(self) -> list[dict]:
        return [dataclasses.asdict(r) for r in self.rows]

    def next_offset(self) -> int | None:
        """The offset of the next page: for a view that pages (limit and offset) and filled this one."""
        values = self.params.values
        if "limit" in values and "offset" in values and len(self.rows) == values["limit"]:
            return values["offset"] + len(self.rows)
        return None

    def to_json(self) -> dict:
        w = self.params.window
        doc = {
            "view": self.view,
            "rows": self.dicts(),
            "from": w.start.isoformat().replace("+00:00", "Z"),
            "to": w.end.isoformat().replace("+00:00", "Z"),
            "limit": self.params.get("limit"),
            "offset": self.params.get("offset"),
            "next_offset": self.next_offset(),
            "elapsed_ms": round(self.elapsed_ms, 3),
        }
        doc.update(self.extra)
        return doc


Build = Callable[[Params, bool], str | list[str]]
Shape = Callable[[list[list[dict]], Params], tuple[list[dict], dict]]


@dataclasses.dataclass(frozen=True)
class View:
    """One APM view. ``build(params, use_rollups)`` returns its SQL (one statement or several);
    ``shape`` turns the result rows (dicts, one list per statement) into row dicts plus extras."""

    name: str
    summary: str
    row: type  # a frozen dataclass; its fields are the JSON keys, in order
    params: tuple[Param, ...]
    build: Build
    shape: Shape | None = None
    default_since: str = "1h"
    uses_rollups: bool = False  # whether use_rollups=False gives a different (raw-span) plan
    examples: tuple[str, ...] = ()

    @property
    def all_params(self) -> tuple[Param, ...]:
        return TIME_PARAMS + self.params

    @property
    def columns(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self.row)]

    def parse(self, raw: Mapping[str, Any], now: dt.datetime | None = None) -> Params:
        return parse_params(self.params, {k: v for k, v in raw.items() if v is not None}, now, self.default_since)

    def sql(self, params: Params, use_rollups: bool = True) -> list[str]:
        out = self.build(params, use_rollups)
        return [out] if isinstance(out, str) else list(out)

    def run(self, source: Source, *, use_rollups: bool = True, now: dt.datetime | None = None,
            **raw: Any) -> ViewResult:
        params = self.parse(raw, now)
        return self.run_params(source, params, use_rollups=use_rollups)

    def run_params(self, source: Source, params: Params, *, use_rollups: bool = True) -> ViewResult:
        statements = self.sql(params, use_rollups)
        started = time.perf_counter()
        results = []
        for stmt in statements:
            res = source.query(stmt)
            results.append([dict(zip(res.columns, r)) for r in res.rows])
        extra: dict = {}
        if self.shape is not None:
            dict_rows, extra = self.shape(results, params)
        else:
            dict_rows = results[-1]
        rows = [self._row(d) for d in dict_rows]
        return ViewResult(self.name, params, rows, statements, (time.perf_counter() - started) * 1000, extra)

    def _row(self, d: dict):
        kwargs = {}
        for f in dataclasses.fields(self.row):
            v = d.get(f.name)
            kwargs[f.name] = _coerce(v, f.type)
        return self.row(**kwargs)


def _coerce(v: Any, type_name: Any) -> Any:
    t = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", str(type_name))
    if v is None:
        return None
    if t in ("float", "float | None"):
        return float(v)
    if t in ("int", "int | None"):
        return int(v)
    if t == "str":
        return str(v)
    return v


__all__ = ["View", "ViewResult", "Param", "Params", "ParamError", "Source"]
