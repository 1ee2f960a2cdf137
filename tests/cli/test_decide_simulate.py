"""``stackeye decide simulate`` as a user runs it: a short spike through the real pipeline scales up,
the timeline's replicas are what the policy decided, the JSON and the PNG are written."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest




def stackeye(*args, cwd=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "stackeye.cli.main", "--log-level", "warning", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout)


@pytest.fixture(scope="module")
def spike(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("spike")
    out = stackeye("decide", "simulate", "--scenario", "spike", "--duration", "6m", "--out", str(tmp / "t.json"),
                   "--plot", str(tmp / "t.png"), "--data-dir", str(tmp / "data"), cwd=str(tmp))
    assert out.returncode == 0, out.stderr[-3000:]
    with open(tmp / "t.json") as f:
        return out, json.load(f), tmp


def test_spike_through_the_pipeline_scales_up(spike):
    out, doc, _ = spike
    rows = doc["rows"]
    assert rows[0]["replicas"] == 3
    assert max(r["replicas"] for r in rows) > 3
    assert doc["scores"]["requests"] == sum(r["requests"] for r in rows) > 0
    assert "replicas" in out.stdout and "slo_ok" in out.stdout  # the printed timeline


def test_the_timeline_follows_the_policys_decisions(spike):
    _, doc, _ = spike
    rows = {r["t"]: r for r in doc["rows"]}
    times = sorted(rows)
    for d in doc["decisions"]:
        nxt = next((t for t in times if t > d["t"]), None)
        if nxt is not None:
            assert rows[nxt]["replicas"] == max(1, d["replicas"]), d  # applied from the next tick
    # the spans really went through storage: the data directory holds them
    assert any(name == "clickhouse" for name in os.listdir(spike[2] / "data"))


def test_plot_is_a_png(spike):
    with open(spike[2] / "t.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_aggregates_path_and_policy_printing(tmp_path):
    printed = stackeye("decide", "simulate", "--scenario", "failing-instance", "--print-policy")
    assert printed.returncode == 0 and "[routing.checkout]" in printed.stdout
    policy = tmp_path / "p.toml"
    policy.write_text(printed.stdout)
    out = stackeye("decide", "simulate", "--scenario", "failing-instance", "--duration", "90s", "--aggregates",
                   "--policy", str(policy), "--format", "json", "--out", str(tmp_path / "f.json"), "-q")
    assert out.returncode == 0, out.stderr[-3000:]
    rows = json.loads(out.stdout)
    assert rows and "bad_share" in rows[0]


def test_bad_input_exits_2_naming_the_fix(tmp_path):
    policy = tmp_path / "p.toml"
    policy.write_text("[autoscale.other]\nmin_replicas = 1\n")
    out = stackeye("decide", "simulate", "--scenario", "spike", "--policy", str(policy))
    assert out.returncode == 2 and "[autoscale.checkout]" in out.stderr and "--print-policy" in out.stderr
    out = stackeye("decide", "simulate", "--scenario", "spike", "--duration", "soon")
    assert out.returncode == 2 and "--duration" in out.stderr
