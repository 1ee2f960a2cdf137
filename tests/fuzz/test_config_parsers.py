"""Arbitrary config text and values: a valid config or a ConfigError (exit 2), never another exception.
100,000 mutated texts per parser family (up, agent, triggers, policies), parsed from memory."""
from __future__ import annotations

import pytest
from stackeye.agent import config as agent_config
from stackeye.agent.config import AgentConfig
from stackeye.app.up_config import UpConfig
from stackeye.core import config
from stackeye.core.config_sample import render_toml
from stackeye.core.errors import Fatal
from stackeye.decisions import policy_file
from stackeye.events import rule_file
from support.mutate import mutations

INPUTS_PER_FAMILY = 100_000
SEED_TRIGGERS = b'[[trigger]]\nname = "slow"\nview = "red"\nvalue = "p95_ms"\nthreshold = 250\nfor = "2m"\n'
SEED_POLICIES = b'[autoscale.checkout]\nmin_replicas = 2\nmax_replicas = 20\n\n[routing.payments]\nsource = "peers"\n'

def keys_only(text: str) -> bytes:
    """A rendered sample without its comments: every mutation lands on a key or value."""
    return "\n".join(line for line in text.splitlines() if line.strip() and not line.startswith("#")).encode()


# family -> (its own seed, what reads a parsed document): the parse is config.parse_toml, the one read_toml uses
FAMILIES = {
    "up": (lambda: keys_only(render_toml(UpConfig(), "up")), lambda doc: config.from_mapping(UpConfig, doc, source="c.toml")),
    "agent": (lambda: keys_only(agent_config.render_toml()), lambda doc: config.from_mapping(AgentConfig, doc, source="c.toml")),
    "triggers": (lambda: SEED_TRIGGERS, lambda doc: rule_file.from_mapping_doc(doc, source="c.toml")),
    "policies": (lambda: SEED_POLICIES, lambda doc: policy_file.from_mapping_doc(doc, source="c.toml")),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_100k_mutated_config_texts_load_or_are_a_config_error(family):
    own, read = FAMILIES[family]
    # mostly its own seed; the others' text spliced in now and then
    seeds = [own()] * 6 + [seed() for name, (seed, _) in FAMILIES.items() if name != family]
    seeds.append(render_toml(UpConfig(), "up").encode())  # comments and all, as `stackeye config` writes it
    parsed = loaded = errors = 0
    for text in mutations(seeds, INPUTS_PER_FAMILY, seed=7 + len(family)):
        try:
            doc = config.parse_toml(text, "c.toml")
            parsed += 1
            read(doc)
            loaded += 1
        except config.ConfigError as err:
            assert str(err) and isinstance(err, Fatal)  # stackeye prints it and exits 2
            errors += 1
    assert loaded + errors == INPUTS_PER_FAMILY
    # past the TOML parser often, and both outcomes of the reader reached
    assert parsed > INPUTS_PER_FAMILY // 20 and loaded > 100 and errors > 1000, (parsed, loaded, errors)


def test_mutated_config_files_read_as_the_texts_do(tmp_path):
    """The file path (read_toml) gives the same outcome as the text path the 100k runs use."""
    path = str(tmp_path / "c.toml")
    for text in mutations([render_toml(UpConfig(), "up").encode(), SEED_TRIGGERS], 300, seed=3):
        with open(path, "wb") as f:
            f.write(text)
        try:
            want = type(config.from_mapping(UpConfig, config.parse_toml(text)))
        except config.ConfigError:
            want = config.ConfigError
        try:
            got = type(config.load(UpConfig, file=path, env={}))
        except config.ConfigError as err:
            assert path in str(err) or err.key != "config", err  # a file's parse error names the file
            got = config.ConfigError
        assert got is want


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
