"""stackeye decide autoscale|routing on storage opened directly, and bad policy files (exit 2).

The policies are the test doubles (support.fake_policies), in this process's registry;
tests/app/test_up_policy.py runs the commands against a real ``stackeye up --policy``.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
from stackeye.cli.main import main
from support.decision_data import gauge, insert, spans
from support.fake_registry import fake_policies  # noqa: F401 (fixture)
from support import recent

AT = recent.at(9, 0)


@pytest.fixture
def data(chdb_storage):
    storage = chdb_storage()
    for i in range(2):
        insert(storage, spans("checkout", f"r{i}", AT - dt.timedelta(seconds=30), [10] * 3, host=f"h{i}"),
               gauge("checkout", f"r{i}", "process.cpu.utilization", [(AT - dt.timedelta(seconds=10), 0.9)]))
    return f"chdb://{storage.url.path}?database={storage.url.database}"


def _policy(tmp_path, text):
    path = tmp_path / "policies.toml"
    path.write_text(text)
    return str(path)


def test_autoscale_as_json_and_table(data, tmp_path, capsys, fake_policies):  # noqa: F811
    policy = _policy(tmp_path, "[autoscale.checkout]\ncpu_pct = 60\n")
    args = ["decide", "autoscale", "--clickhouse", data, "--policy", policy, "--at", recent.iso(AT)]
    assert main(args + ["--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["service"], row["current_replicas"], row["desired_replicas"], row["limiting_target"]) == \
        ("checkout", 2, 3, "cpu")
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["service", "current_replicas", "desired_replicas", "limiting_target",
                                           "reason"] and "checkout" in out and "(1 row)" in out


def test_routing_needs_an_upstream_and_lists_servers(data, capsys, fake_policies):  # noqa: F811
    assert main(["decide", "routing", "--upstream", "checkout", "--clickhouse", data, "--at",
                 recent.iso(AT), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["upstream,server,weight,state,breaker,reason",
                     "checkout,r0,100,active,closed,healthy", "checkout,r1,100,active,closed,healthy"]


@pytest.mark.parametrize("text, named", [
    ("[autoscale.checkout]\nmax_replica = 3\n", "unknown key 'autoscale.checkout.max_replica'"),
    ("[autoscale.checkout]\nmin_replicas = 4\nmax_replicas = 2\n", "autoscale.checkout.max_replicas: must be at least"),
    ("[autoscale.checkout]\ncpu_pct = 0\n", "autoscale.checkout.cpu_pct: must be positive"),
])
def test_a_bad_policy_file_exits_2_naming_policy_and_field(data, tmp_path, capsys, text, named, fake_policies):  # noqa: F811
    policy = _policy(tmp_path, text)
    assert main(["decide", "autoscale", "--clickhouse", data, "--policy", policy]) == 2
    err = capsys.readouterr().err
    assert policy in err and named in err


def test_a_bad_at_exits_2(data, capsys, fake_policies):  # noqa: F811
    assert main(["decide", "autoscale", "--clickhouse", data, "--at", "soon"]) == 2
    assert "--at" in capsys.readouterr().err


def test_print_policy_lists_every_setting(capsys, fake_policies):  # noqa: F811
    assert main(["decide", "autoscale", "--print-policy"]) == 0
    out = capsys.readouterr().out
    assert "[autoscale.checkout]" in out and "min_replicas = 1" in out and "[routing.checkout]" not in out


def test_nothing_running_and_no_data_directory(tmp_path, capsys, fake_policies):  # noqa: F811
    from support.services import free_port

    code = main(["decide", "autoscale", "--url", f"http://127.0.0.1:{free_port()}", "--data-dir", str(tmp_path)])
    assert code == 1 and "nothing is running" in capsys.readouterr().err
