"""Pure parts of stackeye.instrumentation: SQL normalization, config, call trees, doctests."""
from __future__ import annotations

import doctest
import importlib

import pytest
from stackeye.instrumentation.callstack import build_tree
from stackeye.instrumentation.config import Config
from stackeye.instrumentation.sql import normalize

MODULES = ["auto", "callstack", "cli", "config", "configurator", "distro", "enrich", "exporters", "flask_server",
           "metrics", "pipeline", "process_cpu", "runtime", "sql", "sqlite", "stats"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(f"stackeye.instrumentation.{name}")
    failed, _ = doctest.testmod(module)
    assert failed == 0


@pytest.mark.parametrize("raw, expected", [
    ("SELECT * FROM t WHERE id = 7", "SELECT * FROM t WHERE id = ?"),
    ("SELECT * FROM t WHERE name = 'it''s' AND x = 'a\\'b'", "SELECT * FROM t WHERE name = ? AND x = ?"),
    ("SELECT * FROM t WHERE id IN (1, 2, 3)", "SELECT * FROM t WHERE id IN (?)"),
    ("select * from t where id in (%s,%s,%s)", "select * from t where id in (?)"),
    ("SELECT * FROM t WHERE id IN ($1, $2) AND y NOT IN (:a, :b)", "SELECT * FROM t WHERE id IN (?) AND y NOT IN (?)"),
    ("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')", "INSERT INTO t (a, b) VALUES (?, ?)"),
    ("SELECT col1, t2.col_3 FROM t2 WHERE v > 1.5e-3", "SELECT col1, t2.col_3 FROM t2 WHERE v > ?"),
    ('SELECT "Weird ""Name""" FROM x WHERE y = -4', 'SELECT "Weird ""Name""" FROM x WHERE y = ?'),
    ("SELECT $tag$ body $tag$, 0xFF", "SELECT ?, ?"),
    ("SELECT a::text FROM t WHERE b = %(name)s", "SELECT a::text FROM t WHERE b = ?"),
    ("SELECT  1\n  FROM   dual  /* hint */ -- c", "SELECT ? FROM dual"),
    ("SELECT NULL, true FROM t LIMIT 10 OFFSET 20", "SELECT NULL, ? FROM t LIMIT ? OFFSET ?"),
])
def test_normalize(raw, expected):
    assert normalize(raw) == expected


def test_config_env_precedence():
    env = {"OTEL_SERVICE_NAME": "otel-name", "STACKEYE_SERVICE_NAME": "se-name",
           "OTEL_EXPORTER_OTLP_ENDPOINT": "http://10.1.2.3:4317", "OTEL_RESOURCE_ATTRIBUTES":
           "deployment.environment=prod,service.version=1.2", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
           "OTEL_TRACES_SAMPLER_ARG": "0.5", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "redis, flask",
           "OTEL_LOGS_EXPORTER": "none"}
    cfg = Config.from_env(env)
    assert cfg.service_name == "se-name"
    assert (cfg.grpc_target, cfg.insecure, cfg.sample_ratio) == ("10.1.2.3:4317", True, 0.5)
    assert (cfg.environment, cfg.service_version) == ("prod", "1.2")
    assert cfg.disabled_instrumentations == ("redis", "flask")
    assert cfg.logs is False and cfg.traces is True
    assert Config.from_env(env, service_name="kw").service_name == "kw"
    assert Config.from_env({}).endpoint == "127.0.0.1:4317"
    with pytest.raises(ValueError):
        Config.from_env({"STACKEYE_SAMPLE_RATIO": "2"})


def _walk(node, depth=0):
    yield node, depth
    for child in node.get("children", ()):
        yield from _walk(child, depth + 1)


def test_call_tree_shares_add_up():
    samples = []
    for i in range(100):
        stack = ("serve", "handler", "slow_a" if i < 70 else "slow_b")
        leaf = ("SQL: SELECT ?", i == 80) if i >= 80 else None
        samples.append((stack, 0 if i in (0, 70) else 3, leaf))
    tree = build_tree(samples, duration_ms=1000.0, root_name="GET /slow")
    for node, _ in _walk(tree):
        kids = node.get("children", [])
        assert abs(node["self_ms"] + sum(k["total_ms"] for k in kids) - node["total_ms"]) < 0.01
    handler = tree["children"][0]
    assert handler["signature"] == "handler"
    assert [(c["signature"], c["total_ms"]) for c in handler["children"]] == [("slow_a", 700.0), ("slow_b", 300.0)]
    sql = handler["children"][1]["children"][0]
    assert (sql["signature"], sql["kind"], sql["total_ms"], sql["calls"]) == ("SQL: SELECT ?", "sql", 200.0, 1)


class _FakeEntryPoint:
    def __init__(self, name, target, dist=None):
        self.name, self._target, self.dist = name, target, dist

    def load(self):
        return self._target


def test_failing_instrumentor_is_logged_once_and_skipped(caplog):
    from stackeye.instrumentation import auto, stats

    class Broken:
        def instrument(self, **kwargs):
            raise RuntimeError("boom")

    before = stats().get("instrumentors_failed", 0)
    with caplog.at_level("WARNING", logger="stackeye.instrumentation"):
        assert auto.load_one(_FakeEntryPoint("broken-lib", Broken)) == "failed"
    assert stats()["instrumentors_failed"] == before + 1
    assert [r.getMessage() for r in caplog.records if "broken-lib" in r.getMessage()] != []

    class Missing:
        def instrument(self, **kwargs):
            import not_installed_library_xyz  # noqa: F401  check-deps: ignore (a missing library on purpose)

    caplog.clear()
    with caplog.at_level("DEBUG"):
        assert auto.load_one(_FakeEntryPoint("missing-lib", Missing)) == "missing"
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]


def test_installed_library_without_its_instrumentor_is_named_with_the_extra(monkeypatch):
    from stackeye.instrumentation import auto

    assert "opentelemetry-instrumentation-flask" in auto.extra_packages()  # read from stackeye's metadata
    assert auto.uninstrumented() == {}, "the test extra installs every instrumentor of the instrumentation extra"
    real = auto.entry_points
    monkeypatch.setattr(auto, "entry_points", lambda group: [ep for ep in real(group=group)
                                                              if ep.name not in ("flask", "sqlite3", "pymongo")])
    missing = auto.uninstrumented()
    assert missing == {"flask": "opentelemetry-instrumentation-flask",
                       "sqlite3": "opentelemetry-instrumentation-sqlite3"}  # pymongo: not in the extra
    assert auto.uninstrumented(disabled=("flask",)) == {"sqlite3": "opentelemetry-instrumentation-sqlite3"}
    hint = auto.uninstrumented_hint()
    assert "flask (opentelemetry-instrumentation-flask)" in hint and "pip install 'stackeye[instrumentation]'" in hint


def test_safe_exporter_never_raises(caplog):
    from opentelemetry.sdk.trace.export import SpanExportResult
    from stackeye.instrumentation.exporters import SafeSpanExporter
    from stackeye.instrumentation.stats import STATS

    class Exploding:
        def export(self, spans):
            raise ValueError("bad attribute somewhere")

        def shutdown(self):
            raise ValueError("and on shutdown")

    exp = SafeSpanExporter(Exploding)
    before = STATS.snapshot().get("spans_failed", 0)
    with caplog.at_level("WARNING", logger="stackeye.instrumentation"):
        assert exp.export([object(), object()]) == SpanExportResult.FAILURE
        assert exp.export([object()]) == SpanExportResult.FAILURE
    exp.shutdown()
    assert STATS.snapshot()["spans_failed"] == before + 3
    assert len([r for r in caplog.records if "exporting spans failed" in r.getMessage()]) == 1


def test_business_metrics_api_never_raises():
    import stackeye.instrumentation as se

    se.counter("orders_placed").add(1, {"plan": "pro"})
    se.counter("orders_placed").add(-5, {"plan": object()})  # invalid: dropped by the SDK, no exception
    se.histogram("latency", unit="ms").record(float("nan"), None)
    se.up_down_counter("carts").add(-1)
    assert se.counter("orders_placed") is se.counter("orders_placed")
