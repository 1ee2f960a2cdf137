"""What a decision policy is: its settings, its state, and a pure ``decide``.

A policy module ``stackeye.decisions.<name>`` defines ``POLICY = Policy(...)`` and is registered in
:mod:`stackeye.decisions.registry` (one line). The evaluator feeds it::

    decisions, state = POLICY.decide(inputs, settings, state, now)

- ``inputs``: the rows of one key, as of ``now`` — a :class:`~stackeye.decisions.model.ServiceLoad`
  for ``autoscale`` (key: the service), a tuple of :class:`~stackeye.decisions.model.ServerLoad` for
  ``routing`` (key: the upstream set);
- ``settings``: the frozen dataclass of its ``[<name>.<key>]`` table in the policy file (every field a
  :func:`stackeye.core.config.setting`, so defaults, docs, units and checks live in one place);
- ``state``: what the previous evaluation of that key returned (``state_type()`` the first time);
- ``now``: the instant evaluated (UTC): the wall clock, ``--at TIME``, or a backtest's step.

``decide`` reads no clock, no storage and no globals: the same arguments give the same answer, so a
restart, a backtest and the live scheduler agree.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Callable


@dataclasses.dataclass(frozen=True)
class Policy:
    name: str  # the policy file's top-level table and the registry's key
    summary: str
    settings: type  # frozen dataclass of one [<name>.<key>] table
    state_type: type  # frozen dataclass; ``state_type()`` is the state before the first evaluation
    decide: Callable[[Any, Any, Any, dt.datetime], tuple[list, Any]]
    validate: Callable[[Any], list[tuple[str, str]]] = lambda settings: []  # (field, problem) for checks across fields
    key_noun: str = "key"  # what a table's key names: service, upstream
