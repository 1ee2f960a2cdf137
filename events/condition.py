"""What a rule measures at an instant: one :class:`Observation` (labels and a value) per label set.

The one module of events that queries. A view rule runs its view over the whole minutes holding
``[at - window, at]`` (:func:`minute_window`: what the rollups serve) with
the ``where`` keys that are view parameters, keeps the rows whose fields equal the other ``where``
keys, and names each row by its ``by`` fields (default: every text field but the value). An SQL
rule's rows are taken as they come: the ``value`` column, every other column a label.
:func:`render_sql` puts the window's bounds in place of ``{from}`` and ``{to}``.

:func:`measure_all` measures many rules at once and gives each exactly what :func:`measure` gives
it alone, with fewer queries: rules that run the same view over the same window with the same
parameters share one run, and so do rules that differ only in a parameter that merely keeps the
rows whose column of that name equals it (:data:`SHARING`: ``service`` on ``services``…). Those
share one run without the parameter and with the view's largest ``limit``; each rule then keeps
its rows (that column equal to its value, in the view's order, cut at its own ``limit``). A shared
run that fills the largest limit may have cut rows a rule needs: its rules are then run alone.
Identical SQL over the same window runs once. A failing run fails the rules that share it, no other.

A row whose value is NULL or not a number is no observation (a service with no calls has no
error rate). Whether an observation holds (``op`` and ``threshold``) is the state machine's business.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Iterable, Mapping, Sequence

from stackeye.events.rules import TriggerRule
from stackeye.query.views import registry as views
from stackeye.query.views import sql as q
from stackeye.query.views.params import Window


@dataclasses.dataclass(frozen=True)
class Sharing:
    """How the rules of one view share its runs. ``filters``: the view's parameters that only keep
    the rows whose column of the same name equals them — each row is computed from its own group
    whatever they are, and the view orders its rows totally (a tie-break on its key columns), so the
    rows of one value are those of the unfiltered run, in the same order. ``scoped``: value columns
    that do depend on the filter (a share of the total in scope): rules measuring them never share
    a run without their filters."""

    filters: tuple[str, ...]
    scoped: tuple[str, ...] = ()


SHARING = {
    "services": Sharing(("service",)),
    "transactions": Sharing(("service", "route"), scoped=("time_share_pct",)),
    "errors": Sharing(("service", "exception_type")),
    "hosts": Sharing(("host",)),
}


@dataclasses.dataclass(frozen=True)
class Observation:
    labels: Mapping[str, str]
    value: float


def minute_window(at: dt.datetime, window_s: float) -> Window:
    """The whole minutes a view rule reads at ``at``: as the views' own ``since=``, the end is ``at``
    rounded up to the minute (no span is later than now, so the current minute holds exactly what
    has come) and the start ``at - window`` rounded down to the minute: every written second is in. The views then read only their
    1-minute rollups: a window edge inside a minute would read raw spans, which are ordered by
    service and name, so any time range of them costs a scan of the day (bench/events.py:
    20-40 s instead of 2 s for 1,000 rules on 10M spans). A window is so up to a minute longer than
    written, and a rate over it (``rate_per_s``) counts the rest of the current minute as quiet."""
    end = Window.last(dt.timedelta(0), at).end
    start = at - dt.timedelta(seconds=window_s)
    return Window(start.replace(second=0, microsecond=0), end)


def render_sql(sql: str, at: dt.datetime, window_s: float) -> str:
    start = at - dt.timedelta(seconds=window_s)
    return sql.replace("{from}", q.ts(start)).replace("{to}", q.ts(at))


def _number(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def measure(rule: TriggerRule, source, at: dt.datetime) -> list[Observation]:
    """The observations of ``rule`` at ``at`` on ``source`` (``.query(sql)``); storage and parameter
    errors propagate (the engine turns them into an error event of the rule)."""
    got = measure_all([rule], source, at)[rule.name]
    if isinstance(got, Exception):
        raise got
    return got


def measure_all(rules: Iterable[TriggerRule], source, at: dt.datetime) -> dict[str, list[Observation] | Exception]:
    """rule name → its observations at ``at``, or the error that failed its measurement (see the
    module docstring: the same as :func:`measure` of each rule, with shared runs)."""
    out: dict[str, list[Observation] | Exception] = {}
    by_sql: dict[str, list[TriggerRule]] = {}
    by_view: dict[tuple, list[_Plan]] = {}
    for rule in rules:
        if rule.sql:
            by_sql.setdefault(render_sql(rule.sql, at, rule.window), []).append(rule)
            continue
        try:
            plan = _plan(rule, at)
        except Exception as exc:  # a bad parameter is this rule's own failure
            out[rule.name] = exc
            continue
        by_view.setdefault(plan.key, []).append(plan)
    for sql, members in by_sql.items():
        try:
            result = source.query(sql)
        except Exception as exc:
            out.update((r.name, exc) for r in members)
            continue
        for rule in members:
            out[rule.name] = _from_sql(rule, result)
    for plans in by_view.values():
        if len(plans) == 1:
            plans = [_alone(plans[0])]
        try:
            rows = _dicts(plans[0].view, plans[0].view.run_params(source, plans[0].params))
        except Exception as exc:
            out.update((p.rule.name, exc) for p in plans)
            continue
        if plans[0].shared and len(rows) >= plans[0].params["limit"]:  # it may have cut some rule's rows
            for plan in plans:
                out[plan.rule.name] = _measure_alone(plan, source)
            continue
        index: dict[tuple, dict[tuple, list[dict]]] = {}  # filter columns → their values → rows, in order
        for plan in plans:
            out[plan.rule.name] = _from_rows(plan.rule, plan.select(rows, index), plan.match)
    return out


@dataclasses.dataclass(frozen=True)
class _Plan:
    """How one view rule is measured: the run (``view``, ``params``; shared by every rule of the
    same ``key``) and what the rule keeps of its rows (``filters``, ``limit``, then ``match``)."""

    rule: TriggerRule
    view: object
    params: object  # the view's Params of the run
    own: object  # the Params of the rule's run alone
    key: tuple
    filters: Mapping[str, str]  # column → value: the rows of the shared run that are the rule's
    match: Mapping[str, str]  # ``where`` keys that are row fields, not view parameters
    shared: bool  # a run without the filters, at the largest limit

    def select(self, rows: Sequence[dict], index: dict) -> list[dict]:
        """This rule's rows of its run's ``rows``; ``index`` is kept across the rules of one run."""
        if not self.shared:
            return list(rows)
        columns = tuple(sorted(self.filters))
        if columns not in index:
            by_value: dict[tuple, list[dict]] = {}
            for r in rows:
                by_value.setdefault(tuple(str(r.get(k)) for k in columns), []).append(r)
            index[columns] = by_value
        mine = index[columns].get(tuple(self.filters[k] for k in columns), [])
        return mine[:self.own["limit"]]


def _plan(rule: TriggerRule, at: dt.datetime) -> _Plan:
    view = views.get(rule.view)
    declared = {p.name: p for p in view.params}
    passed = {k: v for k, v in rule.where.items() if k in declared}
    match = {k: v for k, v in rule.where.items() if k not in declared}
    window = minute_window(at, rule.window)
    own = view.parse({"from": window.start.isoformat(), "to": window.end.isoformat(), **passed}, now=at)
    sharing = SHARING.get(view.name)
    shared = (sharing is not None and rule.value not in sharing.scoped and "limit" in own.values
              and own.get("offset", 0) == 0)
    params, filters = own, {}
    if shared:
        filters = {k: str(own[k]) for k in sharing.filters if own.get(k)}
        values = {**own.values, **{k: None for k in filters}, "limit": declared["limit"].maximum}
        params = dataclasses.replace(own, values=values)
    key = (view.name, params.window.start, params.window.end, shared,
           tuple(sorted((k, repr(v)) for k, v in params.values.items())))
    return _Plan(rule, view, params, own, key, filters, match, shared)


def _alone(plan: _Plan) -> _Plan:
    return dataclasses.replace(plan, params=plan.own, filters={}, shared=False)


def _measure_alone(plan: _Plan, source) -> list[Observation] | Exception:
    try:
        rows = _dicts(plan.view, plan.view.run_params(source, plan.own))
    except Exception as exc:
        return exc
    return _from_rows(plan.rule, rows, plan.match)


def _dicts(view, result) -> list[dict]:
    """The rows as dicts: what ``result.dicts()`` gives, without its deep copy (a view's fields are
    plain values), which took a third of a round of 1,000 rules."""
    columns = view.columns
    return [{c: getattr(row, c) for c in columns} for row in result.rows]


def _from_sql(rule: TriggerRule, result) -> list[Observation] | Exception:
    if "value" not in result.columns:
        return ValueError(f"the query of trigger {rule.name} returns no `value` column (columns: "
                          f"{', '.join(result.columns)}); name the measured column AS value")
    out = []
    for row in result.rows:
        d = dict(zip(result.columns, row))
        value = _number(d.pop("value"))
        if value is not None:
            out.append(Observation({k: str(v) for k, v in d.items()}, value))
    return out


def _from_rows(rule: TriggerRule, rows: Iterable[dict], match: Mapping[str, str]) -> list[Observation]:
    out = []
    for row in rows:
        if any(str(row.get(k)) != v for k, v in match.items()):
            continue
        value = _number(row.get(rule.value))
        if value is None:
            continue
        by = rule.by or [k for k, v in row.items() if isinstance(v, str) and k != rule.value]
        out.append(Observation({k: str(row.get(k)) for k in by}, value))
    return out
