"""Put the policy test doubles (support.fake_policies) in the registry's place, in this process."""
from __future__ import annotations

import pytest
from stackeye.decisions import registry

from .fake_policies import POLICIES, policy_of


@pytest.fixture
def fake_policies(monkeypatch):
    monkeypatch.setattr(registry, "get", policy_of)
    monkeypatch.setattr(registry, "POLICIES", list(POLICIES))
    return POLICIES
