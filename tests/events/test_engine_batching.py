"""Rules that share view runs (events.condition.measure_all) measure exactly what each measures
alone, in fewer statements; a failing run fails only the rules that share it."""
from __future__ import annotations

import datetime as dt

import pytest
from stackeye.events import rule_file
from stackeye.events.condition import measure, measure_all
from stackeye.events.engine import TriggerEngine
from stackeye.query import demo_data, demo_otlp
from stackeye.query.views import registry
from support import recent

END = recent.at(12, 0)
AT = END - dt.timedelta(minutes=3)


class Counting:
    """The storage, counting reads; ``fail_on``: reads containing it fail as chDB's would."""

    def __init__(self, storage, fail_on: str = ""):
        self.storage, self.fail_on, self.statements = storage, fail_on, 0

    def query(self, sql, **kw):
        if kw.get("readonly", True):
            if self.fail_on and self.fail_on in sql:
                raise RuntimeError(f"Code: 60. DB::Exception: refused ({self.fail_on})")
            self.statements += 1
        return self.storage.query(sql, **kw)

    def __getattr__(self, name):
        return getattr(self.storage, name)


@pytest.fixture(scope="module")
def demo(chdb_path):
    from stackeye.storage.chdb_storage import ChdbStorage
    from stackeye.storage.url import parse_storage_url

    storage = ChdbStorage(parse_storage_url(f"chdb://{chdb_path}?database=t_engine_batching"))
    storage.migrate()
    demo_otlp.load(storage, demo_data.DemoSpec(spans=12_000, services=6, routes=24, hosts=8, end=END, hours=1.0,
                                               error_every=5))
    return storage


def names(storage):
    window = {"from": (AT - dt.timedelta(minutes=30)).isoformat(), "to": AT.isoformat()}
    run = lambda view, **kw: registry.get(view).run(storage, **window, **kw).rows  # noqa: E731
    return ([r.service for r in run("services")], [(r.service, r.route) for r in run("transactions")],
            sorted({r.host for r in run("hosts")}), sorted({(r.service, r.route) for r in run("errors")}))


def rules(storage) -> list[dict]:
    services, routes, hosts, errors = names(storage)
    assert len(services) >= 4 and len(routes) >= 10 and len(hosts) >= 4 and errors, "the demo data changed"
    out = [{"name": "all-errors", "template": "error_rate", "params": {"max_rate": "0.01"}},
           {"name": "all-p95-10m", "view": "services", "value": "p95_ms", "threshold": 1, "window": "10m"},
           {"name": "all-apdex-100", "template": "apdex", "params": {"t_ms": "100", "min_score": "0.99"}},
           {"name": "top-3-by-calls", "view": "services", "where": {"sort": "calls", "limit": "3"},
            "value": "calls", "threshold": 0}]
    for s in services:
        out += [{"name": f"{s}-errors", "template": "error_rate", "params": {"service": s, "max_rate": "0.01"}},
                {"name": f"{s}-p99", "template": "latency_slo", "params": {"service": s, "slo_ms": "5",
                                                                           "quantile": "p99"}},
                {"name": f"{s}-apdex-100", "template": "apdex", "params": {"service": s, "t_ms": "100"}},
                {"name": f"{s}-error-groups", "view": "errors", "where": {"service": s}, "value": "count",
                 "window": "15m"},
                {"name": f"{s}-routes-share", "view": "transactions", "where": {"service": s},
                 "value": "time_share_pct", "by": ["service", "route"], "threshold": 10}]
    for s, r in routes:
        out.append({"name": f"{s}{r}-p95", "view": "transactions", "where": {"service": s, "route": r},
                    "value": "p95_ms", "by": ["service", "route"], "threshold": 2})
    for s, r in errors:  # route is a column of errors, not a parameter: a row match
        out.append({"name": f"{s}{r}-errors", "view": "errors", "where": {"service": s, "route": r},
                    "value": "count", "by": ["service", "route", "exception_type"], "window": "15m"})
    for h in hosts:
        out.append({"name": f"{h}-cpu", "view": "hosts", "where": {"host": h}, "value": "cpu_pct", "by": ["host"],
                    "threshold": 1})
    out += [{"name": "client-errors", "sql": "SELECT ServiceName AS service, countIf(StatusCode = 'Error') AS value "
                                             "FROM otel_traces WHERE Timestamp >= {from} AND Timestamp < {to} "
                                             "GROUP BY service"},
            {"name": "broken-sql", "sql": "SELECT no_such_column AS value FROM otel_traces"}]
    return out


def triggers(storage):
    return rule_file.from_mapping_doc({"trigger": rules(storage)})


def test_shared_runs_give_each_rule_what_it_measures_alone(demo):
    doc = triggers(demo)
    alone_source, together_source = Counting(demo), Counting(demo)
    alone = {}
    for rule in doc.rules:
        try:
            alone[rule.name] = measure(rule, alone_source, AT)
        except Exception as exc:
            alone[rule.name] = exc
    together = measure_all(doc.rules, together_source, AT)
    assert set(together) == set(alone)
    for name, got in together.items():
        if isinstance(alone[name], Exception):
            assert isinstance(got, Exception) and str(got) == str(alone[name]), name
        else:
            assert got == alone[name], name
    assert [n for n, v in together.items() if isinstance(v, Exception)] == ["broken-sql"]
    measured = [v for v in together.values() if isinstance(v, list)]
    assert sum(len(v) for v in measured) > len(doc.rules)  # real rows, not empty answers compared
    assert sum(1 for v in measured if v) >= len(measured) * 0.8
    # one run per view, window and parameters that are not row filters: services 5m (T 500 ms and
    # 100 ms), 10m, sorted by calls; errors 15m; transactions 5m; hosts 5m — plus one per service for
    # time_share_pct (a share within the service filter: it may not share) and the two SQL rules
    assert together_source.statements <= 7 + 6 + 2
    assert alone_source.statements >= len(doc.rules)


def test_a_failing_view_run_fails_only_the_rules_that_share_it(demo):
    doc = triggers(demo)
    got = measure_all(doc.rules, Counting(demo, fail_on="stackeye_errors_1m"), AT)
    failed = sorted(n for n, v in got.items() if isinstance(v, Exception))
    assert failed == sorted([r.name for r in doc.rules if r.view == "errors"] + ["broken-sql"])
    fine = measure_all(doc.rules, demo, AT)
    assert {n: v for n, v in got.items() if n not in failed} == {n: v for n, v in fine.items() if n not in failed}


def test_the_engine_measures_a_round_together_and_fails_only_the_failing_rules(demo):
    doc = triggers(demo)
    source = Counting(demo, fail_on="system.cpu.load_average.1m")
    demo.execute("TRUNCATE TABLE stackeye_events")
    rnd = TriggerEngine(source, doc, notifiers=[]).evaluate(AT)
    assert len(rnd.evaluated) == len(doc.rules)
    hosts = [r.name for r in doc.rules if r.view == "hosts"]
    assert sorted(f.rule for f in rnd.failures) == sorted(hosts + ["broken-sql"])
    errors = {e.event.rule for e in rnd.events if e.event.is_error}
    assert errors == set(hosts) | {"broken-sql"}
    assert source.statements <= 15 + 1  # the runs above, and the state read of a first round
    fired = {e.event.rule for e in rnd.events if not e.event.is_error}
    assert "all-errors" in fired and any(n.endswith("-p95") for n in fired)


def test_view_windows_are_whole_minutes_holding_the_written_window():
    import datetime as dt

    from stackeye.events.condition import minute_window

    at = dt.datetime(2030, 1, 1, 12, 0, 5, tzinfo=dt.timezone.utc)
    w = minute_window(at, 60)
    assert (w.start, w.end) == (at.replace(minute=59, hour=11, second=0), at.replace(minute=1, second=0))
    on = minute_window(at.replace(second=0), 300)
    assert (on.start, on.end) == (at.replace(hour=11, minute=55, second=0), at.replace(second=0))
