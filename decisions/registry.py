"""Every decision policy, one line each: the module ``stackeye.decisions.<name>`` defines ``POLICY``."""
from __future__ import annotations

import importlib

POLICIES = [
    "autoscale",
    "routing",
]


def get(name: str):
    if name not in POLICIES:
        raise KeyError(f"unknown decision policy {name!r}; policies: {', '.join(POLICIES)}")
    policy = importlib.import_module(f"stackeye.decisions.{name}").POLICY
    if policy.name != name:
        raise RuntimeError(f"module {name} defines policy {policy.name!r}")
    return policy


def all_policies() -> list:
    return [get(n) for n in POLICIES]
