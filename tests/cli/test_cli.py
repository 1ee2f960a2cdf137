"""The stackeye command as a user runs it (subprocesses, real files)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from stackeye.cli.main import COMMANDS
from stackeye.core.version import __version__


def stackeye(*args, input=None, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "stackeye.cli.main", *args], capture_output=True, text=True,
                          input=input, cwd=cwd, env=dict(os.environ, **(env or {})), timeout=120)


def test_version():
    out = stackeye("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"stackeye {__version__}"


def test_help_lists_every_command_with_examples():
    out = stackeye("--help")
    assert out.returncode == 0 and "examples:" in out.stdout
    for name in COMMANDS:
        assert name in out.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command):
    out = stackeye(command, "--help")
    assert out.returncode == 0, out.stderr
    assert "examples:" in out.stdout


def test_unknown_config_key_names_the_key(tmp_path):
    cfg = tmp_path / "up.toml"
    cfg.write_text('data_dir = "x"\nretention_dayz = 3\n')
    out = stackeye("up", "--config", str(cfg))
    assert out.returncode == 2
    assert "unknown key 'retention_dayz'" in out.stderr and "did you mean 'retention_days'" in out.stderr


def test_bad_values_are_usage_errors(tmp_path):
    out = stackeye("up", "--otlp-grpc", "nonsense", "--data-dir", str(tmp_path))
    assert out.returncode == 2 and "HOST:PORT" in out.stderr
    out = stackeye("up", "--data-dir", str(tmp_path), env={"STACKEYE_RETENTION_DAYS": "a week"})
    assert out.returncode == 2 and "STACKEYE_RETENTION_DAYS" in out.stderr


def test_sql_over_http_in_every_format(stackeye_up):
    q = "SELECT number AS n, toString(number) AS s FROM numbers(2)"
    table = stackeye("sql", "--url", stackeye_up.http_url, q)
    assert table.returncode == 0 and "(2 rows)" in table.stdout
    js = stackeye("sql", "--url", stackeye_up.http_url, "--format", "json", q)
    assert json.loads(js.stdout) == [{"n": 0, "s": "0"}, {"n": 1, "s": "1"}]
    assert stackeye("sql", "--url", stackeye_up.http_url, "-f", "csv", q).stdout.splitlines() == ["n,s", "0,0", "1,1"]
    assert stackeye("sql", "--url", stackeye_up.http_url, "-f", "tsv", q).stdout.splitlines()[0] == "n\ts"
    piped = stackeye("sql", "--url", stackeye_up.http_url, "-f", "json", "-", input="SELECT 42 AS x")
    assert json.loads(piped.stdout) == [{"x": 42}]


def test_sql_errors_are_clickhouse_errors(stackeye_up):
    bad = stackeye("sql", "--url", stackeye_up.http_url, "SELEC 1")
    assert bad.returncode == 1 and "Syntax error" in bad.stderr
    write = stackeye("sql", "--url", stackeye_up.http_url, "DROP TABLE otel_traces")
    assert write.returncode == 1 and "readonly" in write.stderr.lower()


def test_sql_opens_the_data_directory_when_nothing_runs(tmp_path):
    data = tmp_path / "data"
    assert stackeye("migrate", "--data-dir", str(data)).stdout.startswith("applied 001_otel_traces")
    assert stackeye("migrate", "--data-dir", str(data)).stdout.strip() == "schema is up to date"
    out = stackeye("sql", "--url", "http://127.0.0.1:9", "--data-dir", str(data), "-f", "json",
                   "SELECT count() AS n FROM otel_traces")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [{"n": 0}]


def test_sql_with_nothing_anywhere_says_what_to_do(tmp_path):
    out = stackeye("sql", "--url", "http://127.0.0.1:9", "--data-dir", str(tmp_path / "none"), "SELECT 1")
    assert out.returncode == 1 and "start `stackeye up`" in out.stderr


def test_bad_storage_url_is_exit_2(tmp_path):
    out = stackeye("migrate", "--clickhouse", "mysql://x")
    assert out.returncode == 2 and "unsupported storage URL" in out.stderr
    out = stackeye("sql", "--clickhouse", "chdb://relative", "SELECT 1")
    assert out.returncode == 2 and "three slashes" in out.stderr


def test_data_directory_in_use_is_a_clear_error(stackeye_up):
    out = stackeye("sql", "--clickhouse", "chdb://" + os.path.join(stackeye_up.data_dir, "clickhouse"), "SELECT 1")
    assert out.returncode == 1 and "Only one process can own it" in out.stderr
