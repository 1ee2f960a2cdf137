"""No 5xx from a view: every registered view, through ``GET /api/v1/views/<name>`` of a running
``stackeye up`` on the demo data, with every parameter it declares set to good and bad values
(wrong types, negative, zero and huge numbers, empty strings, unknown choices, malformed times,
SQL-ish, unicode and very long strings) and with unknown extra parameters: the answer is 200 with
the view's rows, or 400 whose message names the parameter at fault (or the query limit it went
over), never 500. A curated list first, then Hypothesis-generated values and combinations."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stackeye.query.views import registry
from stackeye.query.views.params import Param
from support.demo_up import END_AT, WINDOW, http_view, view_params

H = dt.timedelta(hours=1)
CET = dt.timezone(H)

VIEWS = registry.VIEWS
TIME_NAMES = ("since", "from", "to")

ANY_BAD = [
    "", " ", "0", "-1", "-0", "1.5", "1e400", "NaN", "inf", "9" * 40, "0x1f", "abc", "null", "true", "[]", "{}",
    "'; DROP TABLE otel_traces; --", "' OR 1=1 --", "x') UNION SELECT 1 --", "\\", "\\'", "%", "%00", "\x00",
    "ünïcödé ☃ 🚀 日本語", "\u202e\u200b", "\n\r\t", "x" * 1001, "y" * 5000,
]
TIME_GOOD = {
    "since": ["15m", "1h", "24h", "7d", "500ms", "30s", " 2h ", "1.5h"],
    "from": [WINDOW["from"], (END_AT - 2 * H).astimezone(CET).isoformat(), (END_AT - 2 * H).strftime("%Y-%m-%dT%H:%M:%S"),
             (END_AT - 2 * H).strftime("%Y-%m-%d %H:%M:%Sz")],
    "to": [WINDOW["to"], (END_AT + H / 12).astimezone(CET).isoformat(), (END_AT + H / 12).strftime("%Y-%m-%dT%H:%M:%S.123456Z")],
}
TIME_BAD = {
    "since": ["0m", "-1h", "1y", "soon", "32d", "99999999999d", "9" * 30 + "w", "1h30m", "1e3s"],
    "from": ["2026-13-01T00:00:00Z", "yesterday", "2026-11-26T25:00:00Z", "2026-11-26T10:00:00+25:00",
             "0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00",
             "9999-12-31T23:59:59Z", WINDOW["to"], "1764000000"],
    "to": [(END_AT - 3 * H).strftime("%Y-%m-%dT%H:%M:%SZ"), "2026-13-01T00:00:00Z", "9999-12-31T23:59:59-01:00",
           "0001-01-01T00:00:00Z", (END_AT + 365 * 24 * H).strftime("%Y-%m-%dT%H:%M:%SZ"), "now"],
}


def good_values(p: Param) -> list[str]:
    if p.kind == "int":
        lo, hi = int(p.minimum or 0), int(p.maximum or 1000)
        return sorted({str(v) for v in (lo, lo + 1, hi, p.default) if v is not None})
    if p.kind == "float":
        return [str(p.minimum), str(p.maximum)]
    if p.kind == "choice":
        return list(p.choices)
    if p.kind == "hex":
        return ["0" * 32, "4bf92f3577b34da6a3ce929d0e0e4736", "ABCDEF"]
    return ["checkout", "frontend", "web-1", "POST /checkout", "system.cpu.utilization", "x" * 1000]


def bad_values(p: Param) -> list[str]:
    extra = []
    if p.kind == "int":
        lo, hi = int(p.minimum or 0), int(p.maximum or 1000)
        extra = [str(lo - 1), str(hi + 1), str(-(10 ** 30)), str(10 ** 30), f"{hi}.0"]
    if p.kind == "choice":
        extra = [c.upper() for c in p.choices] + [p.choices[0] + " ", "BOGUS"]
    if p.kind == "hex":
        extra = ["g" * 32, "0" * 33]
    return ANY_BAD + extra


@pytest.fixture(scope="module")
def with_rows(demo_up) -> dict[str, dict]:
    """Per view, parameters with which it has rows on the demo data."""
    return {name: view_params(demo_up, name) for name in VIEWS}


def base_params(with_rows: dict, name: str, varied: str) -> dict:
    """Parameters with rows, minus the ones that would clash with the varied one."""
    base = {k: v for k, v in with_rows[name].items() if k != varied}
    if varied == "since":
        base.pop("from", None), base.pop("to", None)
    return base


def check(name: str, params: dict, status: int, doc: dict) -> str | None:
    """What is wrong with the answer, or None."""
    view = registry.get(name)
    if status == 200:
        if not isinstance(doc.get("rows"), list) or any(list(r) != view.columns for r in doc["rows"]):
            return f"200 without the view's rows: {str(doc)[:300]}"
        return None
    if status != 400:
        return f"{status}: {str(doc)[:500]}"
    declared = {p.name for p in view.all_params}
    named = doc.get("parameter")
    if named is not None:
        if named not in declared | set(params) or named not in doc.get("error", ""):
            return f"400 naming {named!r}, not a parameter of the request or the view: {doc}"
        return None
    if doc.get("limit") and doc["limit"] in doc.get("error", ""):  # over a query limit: named too
        return None
    return f"400 naming no parameter: {doc}"


def ask(server, name: str, params: dict) -> tuple[int, str | None]:
    """The status of the answer and what is wrong with it (None: nothing)."""
    status, doc = http_view(server, name, params)
    problem = check(name, params, status, doc)
    return status, (f"{name} {params!r:.300}: {problem}" if problem else None)


@pytest.mark.parametrize("name", VIEWS)
def test_every_parameter_with_good_and_bad_values(demo_up, with_rows, name):
    problems, answered = [], {200: 0, 400: 0}
    for p in registry.get(name).all_params:
        values = (TIME_GOOD.get(p.name) or good_values(p)) + TIME_BAD.get(p.name, []) + bad_values(p)
        for value in values:
            status, problem = ask(demo_up, name, {**base_params(with_rows, name, p.name), p.name: value})
            answered[status] = answered.get(status, 0) + 1
            if problem:
                problems.append(problem)
    assert not problems, f"{len(problems)} bad answers:\n" + "\n".join(problems)
    assert answered[200] and answered[400], answered  # both kinds of values reached the view


@pytest.mark.parametrize("name", VIEWS)
@pytest.mark.parametrize("window", [
    ("0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z"), ("1899-12-31T00:00:00Z", "1900-01-02T00:00:00Z"),
    ("1969-12-31T23:00:00Z", "1970-01-01T01:00:00Z"), ("2106-02-07T00:00:00Z", "2106-02-08T00:00:00Z"),
    ("2299-12-31T00:00:00Z", "2300-01-01T00:00:00Z"), ("9999-12-30T00:00:00Z", "9999-12-31T23:59:59.999999Z"),
    (END_AT.strftime("%Y-%m-%dT%H:%M:%SZ"), END_AT.strftime("%Y-%m-%dT%H:%M:%S.000001Z")),
])
def test_time_ranges_at_the_edges_of_the_calendar(demo_up, with_rows, name, window):
    params = {**with_rows[name], "from": window[0], "to": window[1]}
    status, problem = ask(demo_up, name, params)
    assert problem is None, problem


@pytest.mark.parametrize("name", VIEWS)
@pytest.mark.parametrize("extra", [{"nonsense": "1"}, {"LIMIT": "5"}, {"service_name": "x"},
                                   {"since ": "1h"}, {"'; DROP TABLE x; --": "1"}, {"ü" * 300: "☃"}])
def test_unknown_parameters_are_400_naming_them(demo_up, with_rows, name, extra):
    status, doc = http_view(demo_up, name, {**with_rows[name], **extra})
    (key,) = extra
    assert status == 400 and doc["parameter"] == key, doc


def test_the_views_answered_200_on_the_demo_data(demo_up, with_rows):
    """The base requests of the tests above do reach the SQL (not only the parameter checks)."""
    for name in VIEWS:
        status, doc = http_view(demo_up, name, with_rows[name])
        assert status == 200 and doc["rows"], (name, doc)


# -- generated ----------------------------------------------------------------------------------
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
VALUE = st.one_of(
    TEXT,
    st.integers(min_value=-(10 ** 20), max_value=10 ** 20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.from_regex(r"-?[0-9]{1,12}(\.[0-9]{1,3})?(ms|s|m|h|d|w)", fullmatch=True),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.sampled_from(ANY_BAD),
)


@pytest.mark.parametrize("name", VIEWS)
@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_parameter_combinations(demo_up, with_rows, name, data):
    names = [p.name for p in registry.get(name).all_params]
    chosen = data.draw(st.dictionaries(st.sampled_from(names), VALUE, min_size=1, max_size=len(names)), label="params")
    base = {k: v for k, v in with_rows[name].items() if k not in TIME_NAMES or not set(chosen) & set(TIME_NAMES)}
    _, problem = ask(demo_up, name, {**base, **chosen})
    assert problem is None, problem
