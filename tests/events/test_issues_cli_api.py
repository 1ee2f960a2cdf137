"""Issues through the command line (on the stored data) and ``stackeye up``'s API: list, act,
404 for an unknown fingerprint, 400 for an unknown action."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

from support.server import StackeyeServer

T0 = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.timezone.utc)


def stackeye(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stackeye.cli.main", *args], capture_output=True, text=True,
                          timeout=120)


SEED = """
import datetime as dt, sys
from stackeye.events import issues as lc
from stackeye.events.issue_store import IssueStore
from stackeye.storage.factory import open_storage
T0 = dt.datetime.fromisoformat(sys.argv[2])
storage = open_storage(sys.argv[1])
storage.migrate()
issue, _ = lc.observe(None, lc.ErrorGroup("fp1", "KeyError", "user ? gone", 3, T0, T0, "tr1", ("checkout",)), T0)
IssueStore(storage).save([issue], T0)
storage.close()
"""


def test_cli_lists_and_changes_issues(tmp_path):
    url = f"chdb://{tmp_path / 'ch'}"
    # seeded in a process of its own: chDB takes one data path per process, and this one has its own
    seeded = subprocess.run([sys.executable, "-c", SEED, url, T0.isoformat()], capture_output=True, text=True,
                            timeout=120)
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    done = stackeye("issues", "--clickhouse", url, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert [(i["fingerprint"], i["status"], i["count"]) for i in json.loads(done.stdout)] == [("fp1", "new", 3)]
    done = stackeye("issues", "resolve", "fp1", "--clickhouse", url)
    assert done.returncode == 0 and "resolved" in done.stdout, done.stderr
    done = stackeye("issues", "--status", "resolved", "--clickhouse", url)
    assert "fp1" in done.stdout and "KeyError" in done.stdout
    done = stackeye("issues", "ignore", "nope", "--clickhouse", url)
    assert done.returncode == 1 and "no issue has fingerprint 'nope'" in done.stderr


def test_api_answers_404_and_400(tmp_path):
    srv = StackeyeServer(str(tmp_path / "data"), []).start()
    try:
        status, body = srv.request("GET", "/api/v1/issues")
        assert status == 200 and json.loads(body) == {"issues": []}
        status, body = srv.request("POST", "/api/v1/issues/nope/resolve")
        assert status == 404 and "no issue has fingerprint" in json.loads(body)["error"]
        status, body = srv.request("POST", "/api/v1/issues/nope/delete")
        assert status == 400 and "resolve, ignore, reopen" in json.loads(body)["error"]
        status, _ = srv.request("GET", "/api/v1/issues?status=bogus")
        assert status == 400
    finally:
        srv.stop()
