"""``stackeye decide backtest`` as a user runs it over a data directory of stored spans."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from support import recent



TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START = recent.at(9).isoformat()


def run(*args, timeout=300):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PYTHONPATH=TESTS + os.pathsep + os.environ.get("PYTHONPATH", "")))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from support.backtest_history import POLICY

    tmp = tmp_path_factory.mktemp("bt")
    done = run("-m", "support.backtest_history", str(tmp / "data" / "clickhouse"), START)
    assert done.returncode == 0, done.stderr[-2000:]
    (tmp / "p.toml").write_text(POLICY)
    return tmp


def backtest(data, *extra):
    return run("-m", "stackeye.cli.main", "--log-level", "warning", "decide", "backtest", "--kind", "autoscale",
               "--data-dir", str(data / "data"), "--policy", str(data / "p.toml"),
               "--from", recent.iso(recent.at(9, 1)), "--to", recent.iso(recent.at(9, 19)), "--step", "30s", *extra)


def test_prints_the_changes_with_reasons_and_plots(data):
    out = backtest(data, "--plot", str(data / "bt.png"))
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0].split()[:4] == ["at", "load_rps", "replicas", "p95_ms"]
    assert recent.iso(recent.at(9, 1)) in lines[2] and "3→5" in lines[2]
    with open(data / "bt.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_json_has_every_step(data):
    out = backtest(data, "--format", "json")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads(out.stdout)
    assert len(rows) == 37 and rows[0]["replicas"] == 3


def test_bad_flags_exit_2_with_the_fix(data, tmp_path):
    out = run("-m", "stackeye.cli.main", "decide", "backtest", "--kind", "routing", "--data-dir", str(data / "data"))
    assert out.returncode == 2 and "--upstream" in out.stderr
    out = run("-m", "stackeye.cli.main", "decide", "backtest", "--kind", "autoscale", "--service", "checkout",
              "--data-dir", str(tmp_path / "none"))
    assert out.returncode == 2 and "--data-dir" in out.stderr
    out = backtest(data, "--step", "0s")
    assert out.returncode == 2 and "--step" in out.stderr
