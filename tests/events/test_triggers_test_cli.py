"""``stackeye triggers test NAME --triggers FILE --at TIME``: the dry run shows the rule's
observations at that instant and the transitions it would make, and stores nothing."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

RULES = """
[[trigger]]
name = "from-2030"
sql = "SELECT 'checkout' AS service, if({to} >= toDateTime64('2030-01-01 00:00:00', 9, 'UTC'), 10, 1) AS value"
threshold = 5
for = "1m"

[[trigger]]
name = "broken"
sql = "SELECT no_such_column AS value FROM otel_traces"
"""


def stackeye(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stackeye.cli.main", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("triggers-test")
    url = f"chdb://{tmp / 'clickhouse'}"
    done = stackeye("migrate", "--clickhouse", url)
    assert done.returncode == 0, done.stderr
    path = tmp / "triggers.toml"
    path.write_text(RULES)
    return url, str(path)


def test_the_dry_run_shows_observations_and_transitions_at_the_instant(setup):
    url, path = setup
    done = stackeye("triggers", "test", "from-2030", "--triggers", path, "--at", "2031-01-01T00:00:00Z",
                    "--clickhouse", url, "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["error"] is None
    assert doc["observations"] == [{"labels": {"service": "checkout"}, "value": 10.0, "holds": True}]
    assert doc["transitions"] == [{"state": "pending", "labels": {"service": "checkout"}, "value": 10.0}]

    before = stackeye("triggers", "test", "from-2030", "--triggers", path, "--at", "2029-06-01T00:00:00Z",
                      "--clickhouse", url, "--format", "json")
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout)["observations"][0]["holds"] is False
    assert json.loads(before.stdout)["transitions"] == []

    table = stackeye("triggers", "test", "from-2030", "--triggers", path, "--at", "2031-01-01T00:00:00Z",
                     "--clickhouse", url)
    assert table.returncode == 0 and "would become pending: {'service': 'checkout'} value=10" in table.stdout


def test_the_dry_run_stores_nothing(setup):
    url, path = setup
    for _ in range(2):  # a second run finds no state left by the first: pending again, not firing
        done = stackeye("triggers", "test", "from-2030", "--triggers", path, "--at", "2031-01-01T00:05:00Z",
                        "--clickhouse", url, "--format", "json")
        assert [t["state"] for t in json.loads(done.stdout)["transitions"]] == ["pending"]
    events = stackeye("events", "--clickhouse", url, "--since", "2000-01-01T00:00:00Z", "--format", "json")
    assert events.returncode == 0, events.stderr
    assert json.loads(events.stdout) == []


def test_a_failing_rule_and_an_unknown_name(setup):
    url, path = setup
    done = stackeye("triggers", "test", "broken", "--triggers", path, "--clickhouse", url)
    assert done.returncode == 1 and "broken: the evaluation fails" in done.stdout and "no_such_column" in done.stdout
    unknown = stackeye("triggers", "test", "from-203", "--triggers", path, "--clickhouse", url)
    assert unknown.returncode == 2 and "no trigger named 'from-203'" in unknown.stderr
