"""One trigger rule (a ``[[trigger]]`` table): what it measures, when it holds, what it says.

A rule measures in exactly one of three ways:

- ``view`` + ``value``: run the APM view (``stackeye.query.views``) over the last ``window``; each
  row whose fields equal ``where``'s is one label set (``by``: the fields that name it, default
  every text field of the row), its ``value`` column compared with ``op`` and ``threshold``.
  Keys of ``where`` that are parameters of the view (``service``, ``host``…) are passed to it.
- ``sql``: a query returning one row per label set: a ``value`` column and label columns.
  ``{from}`` and ``{to}`` in it are replaced by the window's bounds (DateTime64 literals).
- ``template`` + ``params``: a built-in rule (:mod:`stackeye.events.templates`).

``for``: how long a condition holds before the rule fires (pending until then); ``every``: how
often it is evaluated (0: every round of the scheduler); ``silence_until`` (RFC 3339): until then
transitions are recorded but notify nobody.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import operator
from typing import Mapping

from stackeye.core.config import ConfigError, setting
from stackeye.core.units import DURATION

OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq,
       "!=": operator.ne}
SEVERITIES = ("critical", "warning", "info")


@dataclasses.dataclass(frozen=True)
class TriggerRule:
    name: str = setting("", "the rule's name: unique in the file, the alertname Alertmanager sees",
                        required=True, example="checkout-errors")
    template: str = setting("", "a built-in rule to use (stackeye triggers templates lists them)")
    params: Mapping[str, str] = setting({}, "the template's parameters, e.g. {service = \"checkout\"}")
    view: str = setting("", "the view whose rows are measured (services, hosts, middleware, errors…)")
    where: Mapping[str, str] = setting({}, "view parameters and row fields the rows must equal")
    value: str = setting("", "the view's column compared with the threshold, e.g. error_rate")
    by: tuple[str, ...] = setting((), "the row fields that name a label set (default: its text fields)")
    window: float = setting(300.0, "the time range a view or {from}..{to} covers, ending at the evaluation",
                            unit=DURATION, positive=True)
    sql: str = setting("", "a query returning label columns and a `value` column, one row per label set")
    op: str = setting(">", "how value is compared with threshold", choices=tuple(OPS))
    threshold: float = setting(0.0, "the value the condition is compared with")
    for_: float = setting(0.0, "how long the condition must hold before the rule fires (\"for\" in the file)",
                          unit=DURATION, minimum=0.0)
    every: float = setting(0.0, "how often the rule is evaluated (0: every round)", unit=DURATION, minimum=0.0)
    severity: str = setting("warning", "the severity label", choices=SEVERITIES)
    labels: Mapping[str, str] = setting({}, "labels added to every alert of the rule")
    annotations: Mapping[str, str] = setting({}, "annotations (summary, description, runbook_url…)")
    silence_until: str = setting("", "until this RFC 3339 time, transitions notify nobody")

    def validate(self) -> None:
        ways = [w for w in ("template", "view", "sql") if getattr(self, w)]
        if len(ways) != 1:
            raise ConfigError("sql" if not ways else ways[1],
                              "give exactly one of template, view (+ value) or sql, got "
                              + (" and ".join(ways) if ways else "none"))
        if self.view and not self.value:
            raise ConfigError("value", f"a view rule needs the column to compare, e.g. value = \"error_rate\"")
        if self.silence_until:
            try:
                silence_end(self)
            except ValueError:
                raise ConfigError("silence_until", f"expected an RFC 3339 time like 2030-01-01T00:00:00Z, "
                                                   f"got {self.silence_until!r}") from None

    def holds(self, value: float) -> bool:
        return OPS[self.op](value, self.threshold)


def silence_end(rule: TriggerRule) -> dt.datetime | None:
    if not rule.silence_until:
        return None
    t = dt.datetime.fromisoformat(rule.silence_until.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def silenced(rule: TriggerRule, at: dt.datetime) -> bool:
    end = silence_end(rule)
    return end is not None and at < end
