"""Errors no retry can fix exit 2 with the fix, in up, collector, writer and agent (real commands as
subprocesses); errors that may go away (a server unreachable) keep being retried."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from support.clickhouse_server import ClickHouseServer

CLUSTER_INSTALL = "pip install 'stackeye[cluster]'"


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("STACKEYE_")}


def stackeye(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stackeye.cli.main", *args], capture_output=True, text=True,
                          env=_env(), timeout=timeout)


def without_module(module: str, *args: str) -> subprocess.CompletedProcess:
    """``stackeye ARGS`` in a Python where ``module`` cannot be imported."""
    code = (f"import sys; sys.modules[{module!r}] = None\n"  # check-deps: ignore
            "from stackeye.cli.main import main\n"
            f"sys.exit(main({list(args)!r}))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120)


def assert_fatal(out: subprocess.CompletedProcess, command: str, *words: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stderr[-3000:])
    assert f"stackeye {command}: error: " in out.stderr, out.stderr[-3000:]
    for word in words:
        assert word in out.stderr, (word, out.stderr[-3000:])
    assert "Traceback" not in out.stderr


@pytest.fixture
def blocker(tmp_path):
    """A regular file: nothing can be created under it, not even by root."""
    path = tmp_path / "a-file"
    path.write_text("")
    return path


def test_up_with_a_data_dir_it_cannot_write(blocker):
    assert_fatal(stackeye("up", "--data-dir", str(blocker / "data")), "up", "data_dir: cannot write",
                 "Not a directory", "--data-dir")
    assert_fatal(stackeye("up", "--data-dir", "/proc/stackeye-data"), "up", "cannot write to '/proc/stackeye-data'")


def test_agent_with_a_state_dir_it_cannot_write(blocker):
    assert_fatal(stackeye("agent", "--collector", "127.0.0.1:9", "--state-dir", str(blocker / "state")), "agent",
                 "state_dir: cannot write", "--state-dir")


@pytest.mark.parametrize("args, words", [
    (("writer", "--kafka", "k1:9092", "--clickhouse", "nonsense://x"), ("clickhouse", "unsupported storage URL")),
    (("up", "--clickhouse", "chdb://relative/path"), ("clickhouse", "three slashes")),
    (("writer", "--kafka", "k1:9092,", "--clickhouse", "chdb:///tmp/x"), ("kafka", "expected host:port")),
    (("collector", "--kafka", "k1:0"), ("port 0",)),
    (("collector", "--kafka", "k1:9092", "--otlp-grpc", "4317"), ("--otlp-grpc", "expected HOST:PORT")),
    (("writer", "--clickhouse", "chdb:///tmp/x"), ("kafka: required", "--kafka kafka1:9092")),
    (("collector", "--kafka", "k1:9092", "--produce-timeout", "soon"), ("--produce-timeout", "duration like '10s'")),
    (("writer", "--kafka", "k1:9092", "--clickhouse", "chdb:///tmp/x", "--batch-max-bytes", "1GiB"),
     ("--batch-max-bytes", "at most '64MiB'")),
])
def test_malformed_settings(args, words):
    assert_fatal(stackeye(*args), args[0], *words)


def test_unknown_keys_and_bad_environment_of_the_cluster_commands(tmp_path):
    f = tmp_path / "writer.toml"
    f.write_text('kafka = "k1:9092"\nclickhouse = "chdb:///tmp/x"\nbatch_max_recrods = 5\n')
    assert_fatal(stackeye("writer", "--config", str(f)), "writer", "unknown key 'batch_max_recrods'",
                 "did you mean 'batch_max_records'")
    out = subprocess.run([sys.executable, "-m", "stackeye.cli.main", "collector", "--kafka", "k1:9092"],
                         capture_output=True, text=True, env=dict(_env(), STACKEYE_PARTITIONS="many"), timeout=60)
    assert_fatal(out, "collector", "STACKEYE_PARTITIONS: expected a whole number")


@pytest.mark.parametrize("module, args, words", [
    ("kafka", ("writer", "--kafka", "127.0.0.1:9", "--clickhouse", "chdb:///tmp/stackeye-never"),
     ("kafka-python is not installed", CLUSTER_INSTALL)),
    ("kafka", ("collector", "--kafka", "127.0.0.1:9"), ("kafka-python is not installed", CLUSTER_INSTALL)),
    ("clickhouse_driver", ("writer", "--kafka", "127.0.0.1:9", "--clickhouse", "clickhouse://127.0.0.1:9/otel"),
     ("clickhouse-driver is not installed", CLUSTER_INSTALL)),
    ("clickhouse_driver", ("up", "--clickhouse", "clickhouse://127.0.0.1:9/otel"),
     ("clickhouse-driver is not installed", CLUSTER_INSTALL)),
    ("chdb", ("writer", "--kafka", "127.0.0.1:9", "--clickhouse", "chdb:///tmp/stackeye-never"),
     ("chdb is not installed", "reinstall stackeye")),
])
def test_a_missing_package_names_the_install_command(module, args, words, tmp_path):
    if args[0] == "up":
        args = (*args, "--data-dir", str(tmp_path / "data"))
    assert_fatal(without_module(module, *args), args[0], *words)


@pytest.fixture
def ch_server(tmp_path):
    server = ClickHouseServer(str(tmp_path / "clickhouse")).start()
    yield server
    server.stop()


def test_a_refused_password_stops_the_writer(ch_server, tmp_path):
    url = ch_server.url().replace(ch_server.password, "wrong-password")
    assert_fatal(stackeye("writer", "--kafka", "127.0.0.1:9", "--clickhouse", url), "writer", "Wrong password")
    assert_fatal(stackeye("up", "--clickhouse", url, "--data-dir", str(tmp_path / "data")), "up", "Wrong password")


def test_an_unreachable_server_is_retried_not_fatal(tmp_path):
    out = stackeye("writer", "--kafka", "127.0.0.1:9", "--clickhouse", "clickhouse://127.0.0.1:9/otel",
                   "--connect-timeout", "1500ms")
    assert out.returncode == 1, out.stderr[-3000:]
    assert "retrying in" in out.stderr and "error:" not in out.stderr
