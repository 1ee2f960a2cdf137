"""``stackeye decide drain`` on a data directory when nothing runs at --url (separate processes: chDB
takes one data path per process)."""
from __future__ import annotations

import subprocess
import sys


def stackeye(*args):
    return subprocess.run([sys.executable, "-m", "stackeye.cli.main", "--log-level", "warning", *args],
                          capture_output=True, text=True, timeout=180)


def test_drain_and_undo_on_a_data_directory(tmp_path):
    data = str(tmp_path / "data")
    assert stackeye("migrate", "--data-dir", data).returncode == 0
    common = ["--upstream", "checkout", "--server", "10.0.0.7:8080", "--url", "http://127.0.0.1:9", "--data-dir", data]
    out = stackeye("decide", "drain", *common)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "checkout/10.0.0.7:8080: drained"
    state = stackeye("sql", "--url", "http://127.0.0.1:9", "--data-dir", data, "--format", "tsv",
                     "SELECT State FROM stackeye_decisions WHERE Kind = 'routing' AND Subject = '' ORDER BY Time")
    assert state.returncode == 0, state.stderr[-2000:]
    assert '"drained":true' in state.stdout
    back = stackeye("decide", "drain", *common, "--undo")
    assert back.returncode == 0 and back.stdout.strip() == "checkout/10.0.0.7:8080: back in routing"


def test_without_storage_it_names_the_fix(tmp_path):
    out = stackeye("decide", "drain", "--upstream", "u", "--server", "s", "--url", "http://127.0.0.1:9",
                   "--data-dir", str(tmp_path / "none"))
    assert out.returncode == 1 and "start `stackeye up` or pass --url / --data-dir / --clickhouse" in out.stderr
