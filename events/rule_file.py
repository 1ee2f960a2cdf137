"""The triggers file: ``[[trigger]]`` rules and ``[[notifier]]`` destinations, read whole or refused whole.

::

    [[trigger]]
    name = "checkout-errors"
    template = "error_rate"
    params = {service = "checkout", max_rate = "0.02"}
    for = "2m"
    severity = "critical"

    [[trigger]]
    name = "slow-db"
    sql = "SELECT ServiceName AS service, quantile(0.95)(Duration)/1e6 AS value FROM otel_traces WHERE Timestamp >= {from} AND SpanKind = 'Client' GROUP BY service"
    threshold = 250

    [[notifier]]
    kind = "alertmanager"
    url = "http://127.0.0.1:9093"

Each table is read with :func:`stackeye.core.config.from_mapping` into
:class:`~stackeye.events.rules.TriggerRule`; templates are expanded into ordinary rules and every
rule is checked against the views it names. Every error is a ConfigError (exit 2) naming the file,
the rule and the field: ``triggers.toml: trigger 'slow-db', field threshold: expected a number``.
The same document comes as JSON through ``PUT /api/v1/triggers``; :func:`save` writes it back.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping

import tomlkit
from stackeye.core.config import ConfigError, from_mapping, read_toml, setting
from stackeye.core.files import write_atomically
from stackeye.events.notifier_config import NotifierConfig
from stackeye.events.rules import TriggerRule
from stackeye.events.templates import registry as templates
from stackeye.events.templates.base import TemplateError
from stackeye.query.views import registry as views
from stackeye.query.views.params import TIME_PARAMS

_TABLE_KEY = re.compile(r"^(trigger|notifier)\[(\d+)\](?:\.(.+))?$")
# rules of the events stackeye records itself (issue_sync, deploys): no trigger may take their names
RESERVED = ("issue_new", "issue_regressed", "deploy")
# fields a template does not replace: they stay the rule's own
OWN = ("name", "for_", "every", "severity", "labels", "annotations", "silence_until")


@dataclasses.dataclass(frozen=True)
class _Doc:
    trigger: tuple[TriggerRule, ...] = setting((), "trigger rules")
    notifier: tuple[NotifierConfig, ...] = setting((), "where transitions are sent")


@dataclasses.dataclass(frozen=True)
class TriggerFile:
    """The rules in force (templates expanded) and the notifiers; ``raw`` is the document as written."""

    path: str = ""
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    rules: tuple[TriggerRule, ...] = ()
    notifiers: tuple[NotifierConfig, ...] = ()

    def rule(self, name: str) -> TriggerRule:
        for r in self.rules:
            if r.name == name:
                return r
        raise KeyError(f"no trigger named {name!r}; triggers: {', '.join(r.name for r in self.rules) or 'none'}")


def _rule_error(source: str, name: str, field: str, problem: str) -> ConfigError:
    field = "for" if field == "for_" else field
    return ConfigError(f"trigger.{name}.{field}", problem, where=f"{source}: trigger {name!r}, field {field}")


def _renamed(doc: Mapping[str, Any]) -> dict:
    """``for`` (a Python keyword) is the field ``for_``."""
    out = dict(doc)
    if isinstance(out.get("trigger"), list):
        out["trigger"] = [{("for_" if k == "for" else k): v for k, v in t.items()} if isinstance(t, Mapping) else t
                          for t in out["trigger"]]
    return out


def from_mapping_doc(doc: Mapping[str, Any], source: str = "triggers", path: str = "") -> TriggerFile:
    """A triggers file from its parsed document (TOML or the API's JSON); ``source`` names it in errors."""
    if not isinstance(doc, Mapping):
        raise ConfigError("", f"{source}: expected [[trigger]] and [[notifier]] tables, got {doc!r}")
    doc = _renamed(doc)
    try:
        parsed = from_mapping(_Doc, doc)
    except ConfigError as exc:
        m = _TABLE_KEY.match(exc.key or "")
        if not m:
            raise ConfigError(exc.key, exc.problem, where=f"{source}: {exc.key}" if exc.key else source) from None
        table, index, field = m.group(1), int(m.group(2)), m.group(3) or ""
        entry = doc[table][index] if isinstance(doc.get(table), list) else {}
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if table == "trigger":
            problem = exc.problem.replace(f"{table}[{index}].", "")
            raise _rule_error(source, str(name or f"#{index + 1}"), field, problem) from None
        raise ConfigError(f"notifier.{index}.{field}", exc.problem,
                          where=f"{source}: notifier #{index + 1} ({name or 'unnamed'}), field {field}") from None
    seen: set[str] = set()
    rules = []
    for index, rule in enumerate(parsed.trigger):
        if not rule.name:
            raise _rule_error(source, f"#{index + 1}", "name", 'required: every trigger has a name, e.g. name = "checkout-errors"')
        if rule.name in RESERVED:
            raise _rule_error(source, rule.name, "name", f"{rule.name!r} names stackeye's own events "
                                                         f"({', '.join(RESERVED)}); choose another name")
        if rule.name in seen:
            raise _rule_error(source, rule.name, "name", "two triggers have this name; names are unique")
        seen.add(rule.name)
        rules.append(_checked(expand(rule, source), source))
    return TriggerFile(path, dict(doc), tuple(rules), parsed.notifier)


def expand(rule: TriggerRule, source: str = "triggers") -> TriggerRule:
    """``rule`` with its template replaced by the rule fields it gives (rules without one: unchanged)."""
    if not rule.template:
        return rule
    try:
        fields = templates.get(rule.template).expand(rule.params)
    except KeyError as exc:
        raise _rule_error(source, rule.name, "template", str(exc.args[0])) from None
    except TemplateError as exc:
        raise _rule_error(source, rule.name, f"params.{exc.param}", str(exc).split(": ", 1)[1]) from None
    own = {k: getattr(rule, k) for k in OWN}
    try:
        return from_mapping(TriggerRule, {**fields, **own})
    except ConfigError as exc:  # a template's bug or a parameter it passed on unchecked
        raise _rule_error(source, rule.name, f"template {rule.template}: {exc.key}", exc.problem) from None


def _checked(rule: TriggerRule, source: str) -> TriggerRule:
    """A view rule's view, value, where and by exist."""
    if not rule.view:
        return rule
    try:
        view = views.get(rule.view)
    except KeyError as exc:
        raise _rule_error(source, rule.name, "view", str(exc.args[0])) from None
    columns = view.columns
    params = {p.name for p in view.all_params}
    if rule.value not in columns:
        raise _rule_error(source, rule.name, "value", f"view {view.name} has no column {rule.value!r}; "
                                                      f"columns: {', '.join(columns)}")
    for key in rule.where:
        if key not in columns and key not in params or key in {p.name for p in TIME_PARAMS}:
            raise _rule_error(source, rule.name, f"where.{key}", f"view {view.name} has no column or parameter "
                                                                 f"{key!r} (the time range is `window`)")
    for key in rule.by:
        if key not in columns:
            raise _rule_error(source, rule.name, "by", f"view {view.name} has no column {key!r}")
    return rule


def load(path: str) -> TriggerFile:
    """The triggers file at ``path`` (ConfigError naming file, rule and field when it is bad)."""
    try:
        doc = read_toml(path)
    except ConfigError as exc:
        raise ConfigError("triggers", exc.problem.replace("config file", "triggers file"), where="--triggers") from None
    return from_mapping_doc(doc, source=path, path=path)


def dumps(triggers: TriggerFile) -> str:
    doc = tomlkit.document()
    doc.add(tomlkit.comment("stackeye triggers; PUT /api/v1/triggers rewrites this file"))
    for table in ("trigger", "notifier"):
        entries = triggers.raw.get(table) or []
        if entries:
            aot = tomlkit.aot()
            for entry in entries:
                aot.append({("for" if k == "for_" else k): v for k, v in entry.items()})
            doc.add(table, aot)
    return tomlkit.dumps(doc)


def save(triggers: TriggerFile, path: str) -> None:
    """Write ``triggers`` to ``path`` atomically (a reader sees the old file or the new one)."""
    write_atomically(path, dumps(triggers))
