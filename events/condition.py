"""What a rule measures at an instant: one :class:`Observation` (labels and a value) per label set.

The one module of events that queries. A view rule runs its view over ``[at - window, at]`` with
the ``where`` keys that are view parameters, keeps the rows whose fields equal the other ``where``
keys, and names each row by its ``by`` fields (default: every text field but the value). An SQL
rule's rows are taken as they come: the ``value`` column, every other column a label.
:func:`render_sql` puts the window's bounds in place of ``{from}`` and ``{to}``.

A row whose value is NULL or not a number is no observation (a service with no calls has no
error rate). Whether an observation holds (``op`` and ``threshold``) is the state machine's business.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Mapping

from stackeye.events.rules import TriggerRule
from stackeye.query.views import registry as views
from stackeye.query.views import sql as q


@dataclasses.dataclass(frozen=True)
class Observation:
    labels: Mapping[str, str]
    value: float


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
    if rule.sql:
        result = source.query(render_sql(rule.sql, at, rule.window))
        if "value" not in result.columns:
            raise ValueError(f"the query of trigger {rule.name} returns no `value` column (columns: "
                             f"{', '.join(result.columns)}); name the measured column AS value")
        out = []
        for row in result.rows:
            d = dict(zip(result.columns, row))
            value = _number(d.pop("value"))
            if value is not None:
                out.append(Observation({k: str(v) for k, v in d.items()}, value))
        return out
    view = views.get(rule.view)
    params = {p.name for p in view.params}
    passed = {k: v for k, v in rule.where.items() if k in params}
    match = {k: v for k, v in rule.where.items() if k not in params}
    start = at - dt.timedelta(seconds=rule.window)
    result = view.run(source, now=at, **{"from": start.isoformat(), "to": at.isoformat()}, **passed)
    out = []
    for row in result.dicts():
        if any(str(row.get(k)) != v for k, v in match.items()):
            continue
        value = _number(row.get(rule.value))
        if value is None:
            continue
        by = rule.by or [k for k, v in row.items() if isinstance(v, str) and k != rule.value]
        out.append(Observation({k: str(row.get(k)) for k in by}, value))
    return out
