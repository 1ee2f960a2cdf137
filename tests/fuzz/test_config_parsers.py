"""Arbitrary config text and values: a valid config or a ConfigError (exit 2), never another exception."""
from __future__ import annotations

import pytest
from stackeye.agent.config import AgentConfig
from stackeye.app.up_config import UpConfig
from stackeye.core import config
from stackeye.core.config_sample import render_toml
from stackeye.core.errors import Fatal
from stackeye.decisions import policy_file
from stackeye.events import rule_file
from support.mutate import mutations

INPUTS = 20_000  # three parsers per input: 60,000 parses
SEED_TRIGGERS = b'[[trigger]]\nname = "slow"\nview = "red"\nvalue = "p95_ms"\nthreshold = 250\nfor = "2m"\n'
SEED_POLICIES = b'[autoscale.checkout]\nmin_replicas = 2\nmax_replicas = 20\n\n[routing.payments]\nsource = "peers"\n'


def _parse(path: str, text: bytes) -> None:
    with open(path, "wb") as f:
        f.write(text)
    for load in (lambda: config.load(UpConfig, file=path, env={}), lambda: rule_file.load(path),
                 lambda: policy_file.load(path)):
        try:
            load()
        except config.ConfigError as err:
            assert str(err)


def test_100k_mutated_config_files_load_or_are_a_config_error(tmp_path):
    seeds = [render_toml(UpConfig(), "up").encode(), SEED_TRIGGERS, SEED_POLICIES]
    path = str(tmp_path / "c.toml")
    n = 0
    for text in mutations(seeds, INPUTS, seed=7):
        _parse(path, text)
        n += 1
    assert n == INPUTS


@pytest.mark.parametrize("text", [b"a = " + b"[" * 5000 + b"]" * 5000, b"a = " + b"{b = " * 3000 + b"1" + b"}" * 3000,
                                  b'a = "\xff\xfe"', b"\xef\xbb\xbf\x00"], ids=["deep-arrays", "deep-tables", "utf8", "nul"])
def test_unreadable_toml_is_a_config_error(tmp_path, text):
    path = str(tmp_path / "c.toml")
    with open(path, "wb") as f:
        f.write(text)
    for load in (lambda: config.load(UpConfig, file=path, env={}), lambda: rule_file.load(path),
                 lambda: policy_file.load(path), lambda: config.load(AgentConfig, file=path, env={})):
        with pytest.raises(config.ConfigError) as err:
            load()
        assert isinstance(err.value, Fatal)  # stackeye prints it and exits 2
