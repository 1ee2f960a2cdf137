"""decisions.policy_file: tables into settings, every error naming file, policy, key and field."""
from __future__ import annotations

import pytest
from stackeye.core.config import ConfigError
from stackeye.decisions import policy_file
from support.fake_policies import KNOWN


def _load(tmp_path, text):
    path = tmp_path / "policies.toml"
    path.write_text(text)
    return policy_file.load(str(path), **KNOWN), str(path)


def test_tables_become_settings_with_defaults(tmp_path):
    pf, path = _load(tmp_path, '[autoscale.checkout]\nmax_replicas = 20\nscale_down_window = "5m"\n'
                               '[routing.pay]\nsource = "peers"\n')
    assert pf.path == path and pf.keys("autoscale") == ["checkout"] and pf.keys("routing") == ["pay"]
    s = pf.settings("autoscale", "checkout")
    assert (s.max_replicas, s.scale_down_window, s.min_replicas) == (20, 300.0, 1)
    assert pf.settings("autoscale", "other").max_replicas == 10  # no table: the defaults
    assert pf.resolved()["autoscale"]["checkout"]["scale_down_window"] == "5m"
    assert pf.raw == {"autoscale": {"checkout": {"max_replicas": 20, "scale_down_window": "5m"}},
                      "routing": {"pay": {"source": "peers"}}}


@pytest.mark.parametrize("text, where, message", [
    ("[autoscale.checkout]\nmax_replica = 3\n", "autoscale.checkout.max_replica", "did you mean 'max_replicas'"),
    ("[autoscale.checkout]\nmin_replicas = 5\nmax_replicas = 2\n", "autoscale.checkout.max_replicas",
     "must be at least min_replicas"),
    ("[autoscale.checkout]\ncpu_pct = 0\n", "autoscale.checkout.cpu_pct", "must be positive"),
    ("[autoscale.checkout]\ncpu_pct = -5\n", "autoscale.checkout.cpu_pct", "must be positive"),
    ("[routing.pay]\nsource = 'spans'\n", "routing.pay.source", "expected one of"),
    ("[autoscal.checkout]\n", "autoscal", "did you mean [autoscale.<key>]"),
    ("[autoscale]\nmax_replicas = 3\n", "autoscale", "one [autoscale.<service>] table per service"),
])
def test_a_bad_policy_names_file_policy_key_and_field(tmp_path, text, where, message):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert str(tmp_path / "policies.toml") in str(err.value) and where in str(err.value)
    assert message in str(err.value)
    assert err.value.key == where


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(ConfigError, match="policy file .* does not exist"):
        policy_file.load(str(tmp_path / "nope.toml"), **KNOWN)
    with pytest.raises(ConfigError, match="not valid TOML"):
        _load(tmp_path, "[autoscale.checkout\n")


def test_save_writes_what_load_reads(tmp_path):
    doc = {"autoscale": {"checkout": {"max_replicas": 7, "scale_down_window": "2m"}}, "routing": {"pay": {}}}
    pf = policy_file.from_mapping_doc(doc, path=str(tmp_path / "p.toml"), **KNOWN)
    policy_file.save(pf, pf.path)
    again = policy_file.load(pf.path, **KNOWN)
    assert again.raw == doc and again.settings("autoscale", "checkout").scale_down_window == 120.0
    assert [p.name for p in tmp_path.iterdir()] == ["p.toml"]  # no temporary file left behind


def test_the_sample_lists_every_setting_and_loads_back(tmp_path):
    text = policy_file.sample(KNOWN["names"], KNOWN["policy_of"])
    for name in ("min_replicas", "max_replicas", "cpu_pct", "slow_call_ms", "max_weight"):
        assert f"\n{name} = " in text
    assert "[autoscale.checkout]" in text and "# most replicas" in text
    pf, _ = _load(tmp_path, text)
    assert pf.keys("autoscale") == ["checkout"] and pf.keys("routing") == ["checkout"]
