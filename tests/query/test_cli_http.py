"""Through a real ``stackeye up``: data sent by ``stackeye demo-data`` over OTLP/gRPC; every view
answers the same rows from the CLI (``--format json``) and from ``GET /api/v1/views/<name>``;
bad parameters are 400 naming the parameter; SQL that writes or runs too long is refused."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from stackeye.cli.main import main
from stackeye.query.views import registry
from support.demo_up import END, WINDOW, http_view, view_params
from support.services import free_port


@pytest.mark.parametrize("name", registry.VIEWS)
def test_cli_and_http_answer_the_same_rows(demo_up, name, capsys):
    params = view_params(demo_up, name)
    status, doc = http_view(demo_up, name, params)
    assert status == 200, doc
    assert doc["rows"], f"{name} has rows on the demo data"
    argv = ["query", name, "--url", demo_up.http_url, "--format", "json"]
    for k, v in params.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    capsys.readouterr()
    assert main(argv) == 0
    cli_rows = json.loads(capsys.readouterr().out)
    assert cli_rows == doc["rows"]
    assert list(cli_rows[0]) == registry.get(name).columns


def test_positional_trace_id(demo_up, capsys):
    params = view_params(demo_up, "trace")
    capsys.readouterr()
    assert main(["query", "trace", params["trace_id"], "--url", demo_up.http_url, "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("span_id,parent_span_id,depth") and len(out) > 2


@pytest.mark.parametrize("query,param", [
    ({"since": "soon"}, "since"), ({"limit": "-3"}, "limit"), ({"sort": "bogus"}, "sort"),
    ({"from": "2026-13-01T00:00:00Z"}, "from"), ({"nonsense": "1"}, "nonsense"),
    ({"of": "metric"}, "metric"), ({"of": "services", "interval": "90s"}, "interval"),
])
def test_bad_parameters_are_400_naming_the_parameter(demo_up, query, param):
    status, doc = http_view(demo_up, "timeseries" if param in ("metric", "interval") else "services", query)
    assert status == 400 and doc["parameter"] == param and param in doc["error"]


def test_bad_parameter_on_the_cli_exits_2(demo_up, capsys):
    assert main(["query", "services", "--url", demo_up.http_url, "--since", "soon"]) == 2
    assert "since" in capsys.readouterr().err


def test_unknown_view(demo_up):
    status, doc = http_view(demo_up, "nope", {})
    assert status == 404 and "services" in doc["error"]


def test_pagination(demo_up):
    _, first = http_view(demo_up, "transactions", {**WINDOW, "limit": 3})
    _, second = http_view(demo_up, "transactions", {**WINDOW, "limit": 3, "offset": first["next_offset"]})
    _, both = http_view(demo_up, "transactions", {**WINDOW, "limit": 6})
    assert first["rows"] + second["rows"] == both["rows"]


@pytest.mark.parametrize("name,limit", [("hosts", 5), ("gateway", 2)])
def test_a_full_page_of_a_view_that_does_not_page(demo_up, name, limit, capsys):
    """hosts and gateway take a limit but no offset: a full page has no next page (``stackeye query
    hosts --limit 5`` was a KeyError in ViewResult.to_json, HTTP 500)."""
    status, doc = http_view(demo_up, name, {**WINDOW, "limit": limit})
    assert status == 200, doc
    assert len(doc["rows"]) == limit and doc["limit"] == limit and doc["offset"] is None and doc["next_offset"] is None
    capsys.readouterr()
    assert main(["query", name, "--url", demo_up.http_url, "--limit", str(limit), "--format", "json",
                 "--from", WINDOW["from"], "--to", WINDOW["to"]]) == 0
    assert json.loads(capsys.readouterr().out) == doc["rows"]


def test_openapi_describes_every_view(demo_up):
    status, body = demo_up.request("GET", "/api/v1/openapi.json")
    doc = json.loads(body)
    assert status == 200 and doc["openapi"].startswith("3.")
    for name in registry.VIEWS:
        op = doc["paths"][f"/api/v1/views/{name}"]["get"]
        assert {p["name"] for p in op["parameters"]} >= {"since", "from", "to"}
        props = op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["rows"]["items"]
        assert list(props["properties"]) == registry.get(name).columns
    assert "/api/v1/sql" in doc["paths"]


@pytest.mark.parametrize("sql", ["INSERT INTO otel_logs (Body) VALUES ('x')", "DROP TABLE otel_logs",
                                 "ALTER TABLE otel_traces DELETE WHERE 1"])
def test_sql_that_writes_is_refused(demo_up, sql):
    status, body = demo_up.request("POST", "/api/v1/sql", {"query": sql})
    assert status == 400 and "readonly" in json.loads(body)["error"].lower()


def test_sql_that_runs_too_long_is_refused(demo_up):
    status, body = demo_up.request("POST", "/api/v1/sql", {"query": "SELECT count() FROM numbers(100000000000) "
                                                                    "WHERE sipHash64(number) % 7 = 1"})
    error = json.loads(body)["error"]
    assert status == 400 and "TIMEOUT_EXCEEDED" in error
    assert "longer than 1 s (query_timeout_s / --query-timeout-s)" in error, error


def test_demo_data_and_query_on_a_data_directory(tmp_path):
    """Nothing running: both commands open the data directory themselves."""
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "stackeye.cli.main"]
    subprocess.run(cmd + ["demo-data", "--spans", "500", "--end", END, "--data-dir", str(tmp_path)],
                   check=True, capture_output=True, env=env, timeout=120)
    url = f"http://127.0.0.1:{free_port()}"
    out = subprocess.run(cmd + ["query", "services", "--url", url, "--data-dir", str(tmp_path), "--format", "json",
                                "--from", WINDOW["from"], "--to", WINDOW["to"]],
                         check=True, capture_output=True, env=env, timeout=120).stdout
    rows = json.loads(out)
    assert {r["service"] for r in rows} >= {"frontend", "fulfillment"}


def test_sql_on_storage_opened_directly_has_the_same_limits(tmp_path):
    """``stackeye sql --clickhouse chdb://…`` (and on --data-dir) applies the query_* settings of
    ``stackeye up``: flags, STACKEYE_QUERY_* environment; errors name the setting."""
    cmd = [sys.executable, "-m", "stackeye.cli.main", "sql", "--clickhouse", f"chdb://{tmp_path}/clickhouse"]
    env = dict(os.environ, STACKEYE_QUERY_MAX_ROWS="10")
    over_memory = subprocess.run(cmd + ["--query-max-memory-bytes", str(300 << 20),
                                        "SELECT groupArray(number) FROM numbers(100000000)"],
                                 capture_output=True, text=True, env=env, timeout=120)
    assert over_memory.returncode == 1
    assert f"needs more than {300 << 20} bytes of memory (query_max_memory_bytes / --query-max-memory-bytes)" \
        in over_memory.stderr, over_memory.stderr
    over_rows = subprocess.run(cmd + ["SELECT number FROM numbers(1000)"], capture_output=True, text=True, env=env,
                               timeout=120)
    assert over_rows.returncode == 1 and "more than 10 rows (query_max_rows / --query-max-rows)" in over_rows.stderr
    bad = subprocess.run(cmd + ["--query-max-threads", "0", "SELECT 1"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--query-max-threads: must be positive" in bad.stderr, bad.stderr


@pytest.mark.parametrize("argv,word", [(["--spans", "0"], "spans"), (["--end", "tomorrow"], "end"),
                                       (["--services", "1"], "services")])
def test_demo_data_bad_flags_exit_2(argv, word, capsys, tmp_path):
    assert main(["demo-data", "--data-dir", str(tmp_path), *argv]) == 2
    assert word in capsys.readouterr().err


def test_query_help_lists_the_views(capsys):
    with pytest.raises(SystemExit):
        main(["query", "--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in registry.VIEWS) and "examples:" in out
