"""What a built-in trigger template is: named parameters with defaults, and the rule fields they give.

A rule enables one with ``template = "error_rate"`` and ``params = {service = "checkout"}``;
:func:`expand` turns that into the fields of an ordinary rule (``view``/``value``/``where``/``op``/
``threshold``, or ``sql``), so a template is checked, evaluated and stored like any rule. The
parameters arrive as strings (TOML tables of strings); a template converts and checks them with
:func:`number`, which names the parameter when it is not one.
"""
from __future__ import annotations

import dataclasses
import difflib
from typing import Callable, Mapping


class TemplateError(ValueError):
    """A bad parameter; ``param`` names it."""

    def __init__(self, param: str, problem: str):
        super().__init__(f"params.{param}: {problem}")
        self.param = param


@dataclasses.dataclass(frozen=True)
class TemplateParam:
    name: str
    default: str | None  # None: required
    help: str


@dataclasses.dataclass(frozen=True)
class Template:
    name: str
    summary: str
    params: tuple[TemplateParam, ...]
    build: Callable[[Mapping[str, str]], dict]  # every param filled in → rule fields
    example: Mapping[str, str] = dataclasses.field(default_factory=dict)  # params a contract test runs

    def expand(self, given: Mapping[str, str]) -> dict:
        """The rule fields of this template with ``given`` parameters (TemplateError when bad)."""
        known = {p.name: p for p in self.params}
        for name in given:
            if name not in known:
                near = difflib.get_close_matches(name, list(known), n=1)
                hint = f"did you mean {near[0]!r}?" if near else f"parameters: {', '.join(known) or 'none'}"
                raise TemplateError(name, f"template {self.name} has no parameter {name!r}; {hint}")
        values = {}
        for p in self.params:
            value = given.get(p.name, p.default)
            if value is None:
                raise TemplateError(p.name, f"required by template {self.name}: {p.help}")
            values[p.name] = str(value)
        return self.build(values)


def number(params: Mapping[str, str], name: str, positive: bool = False) -> float:
    try:
        value = float(params[name])
    except ValueError:
        raise TemplateError(name, f"expected a number, got {params[name]!r}") from None
    if positive and not value > 0:
        raise TemplateError(name, f"must be positive, got {params[name]!r}")
    return value


def service_where(params: Mapping[str, str]) -> dict:
    """``where`` for an optional ``service`` parameter ('' or '*': every service)."""
    service = params.get("service", "")
    return {} if service in ("", "*") else {"service": service}


def duration(params: Mapping[str, str], name: str) -> float:
    """A duration parameter (``90s``, ``5m``, ``1d``) in seconds; TemplateError naming it when it is not one."""
    from stackeye.core.units import parse_duration

    try:
        value = parse_duration(params[name])
    except ValueError as exc:
        raise TemplateError(name, str(exc)) from None
    if not value > 0:
        raise TemplateError(name, f"must be positive, got {params[name]!r}")
    return value


def equals(column: str, value: str) -> str:
    """`` AND column = 'value'`` for an optional filter parameter ('' or '*': no filter)."""
    from stackeye.query.views import sql as q

    return "" if value in ("", "*") else f" AND {column} = {q.lit(value)}"


HOST = "ResourceAttributes['host.name']"


def host_gauge_rule(p: Mapping[str, str], metric: str, value: str, where: str = "",
                    by: tuple[tuple[str, str], ...] = ()) -> dict:
    """An sql rule over the agent's gauge ``metric``, one label set per host (and ``by``: (alias,
    column) pairs), ``value`` an aggregate of ``Value`` over the window, above ``max_pct``."""
    labels = "".join(f", {column} AS {alias}" for alias, column in by)
    sql = (f"SELECT {HOST} AS host{labels}, {value} AS value FROM otel_metrics_gauge "
           f"WHERE MetricName = '{metric}'{where} AND {HOST} != ''{equals(HOST, p['host'])} "
           f"AND TimeUnix >= {{from}} AND TimeUnix < {{to}} GROUP BY host{''.join(', ' + a for a, _ in by)}")
    return {"sql": sql, "op": ">", "threshold": number(p, "max_pct", positive=True), "window": p["window"]}
