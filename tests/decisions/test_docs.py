"""docs/decisions.md's policy file block is what the policies' settings generate."""
from __future__ import annotations

import os

import pytest
from stackeye.decisions import policy_file, registry

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "docs",
                    "decisions.md")


def test_the_docs_show_every_setting_of_every_policy():
    with open(DOCS) as f:
        block = policy_file.docs_block(f.read())
    assert block == "```toml\n" + policy_file.sample() + "```\n", \
        "docs/decisions.md is stale: run python -m stackeye.decisions.policy_file --write-docs docs/decisions.md"


def test_write_docs_replaces_only_the_block(tmp_path):
    from support.fake_policies import policy_of

    doc = tmp_path / "d.md"
    doc.write_text(f"# t\n{policy_file.DOCS_BEGIN} x -->\n```toml\nold\n```\n{policy_file.DOCS_END}\nafter\n")
    policy_file.write_docs(str(doc), policy_of=policy_of)
    text = doc.read_text()
    assert "\nold\n" not in text and "[autoscale.checkout]" in text and text.endswith(f"{policy_file.DOCS_END}\nafter\n")
