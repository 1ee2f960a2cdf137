"""Every decision policy, one line each: the module ``stackeye.decisions.<name>`` defines ``POLICY``."""
from __future__ import annotations

import importlib

from stackeye.core.errors import Fatal


class PolicyMissing(Fatal):
    """A registered policy whose module is not installed: no retry helps (exit 2)."""

POLICIES = [
    "autoscale",
    "routing",
]


def get(name: str):
    if name not in POLICIES:
        raise KeyError(f"unknown decision policy {name!r}; policies: {', '.join(POLICIES)}")
    module = f"stackeye.decisions.{name}"
    try:
        policy = importlib.import_module(module).POLICY
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        raise PolicyMissing(f"the {name} decision policy is not part of this stackeye ({module} is missing); "
                            f"install a stackeye that has it, or remove the [{name}.*] tables from the policy file") from None
    if policy.name != name:
        raise RuntimeError(f"module {name} defines policy {policy.name!r}")
    return policy


def all_policies() -> list:
    return [get(n) for n in POLICIES]
