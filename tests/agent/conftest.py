"""Fixtures of the agent tests: a configured agent in-process, real servers."""
from __future__ import annotations

import os

import pytest
from stackeye.agent import config as agent_config

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


@pytest.fixture
def make_config(tmp_path):
    """AgentConfig from raw keys, state in tmp_path, relay and agent protocol off unless asked."""
    def make(**raw):
        raw.setdefault("state_dir", str(tmp_path / "state"))
        raw.setdefault("otlp_listen", "off")
        raw.setdefault("agent_protocol", False)
        raw.setdefault("retry_initial", "0.1s")
        raw.setdefault("retry_max", "1s")
        return agent_config.from_mapping(raw)
    return make
