"""The ``--exec`` actuator: a command per autoscale decision, from a template.

``kubectl scale deployment/{service} --replicas={desired}`` is split into words the shell's way
(:func:`shlex.split`) first, and each word is then filled in with the decision's fields, so a
service name can never become two arguments or a second command: there is no shell. The fields:
``{service}``, ``{desired}``, ``{current}``, ``{limiting_target}``.

Only decisions that change the count (desired ≠ current) get a command. Dry-run prints the
commands (quoted with :func:`shlex.join`, ready to paste); otherwise each runs with a timeout and
its exit code, and the tail of its output, are reported.
"""
from __future__ import annotations

import dataclasses
import shlex
import string
import subprocess

from stackeye.core.config import ConfigError
from stackeye.decisions import codec
from stackeye.decisions.model import AutoscaleDecision

FIELDS = ("service", "desired", "current", "limiting_target")


@dataclasses.dataclass(frozen=True)
class Result:
    service: str
    current: int
    desired: int
    action: str  # unchanged | planned | ran | failed
    command: str = ""
    message: str = ""


def parse_template(template: str, where: str = "--exec") -> list[str]:
    """The template's words; a ConfigError naming the fix for an empty one, bad quoting or an unknown field."""
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise ConfigError(where, f"{exc} in {template!r}; quote it like a shell command") from None
    if not words:
        raise ConfigError(where, "empty command; e.g. --exec 'kubectl scale deployment/{service} --replicas={desired}'")
    for word in words:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(word) if f is not None]
        except ValueError as exc:
            raise ConfigError(where, f"{exc} in {word!r}; write a literal brace as {{{{ or }}}}") from None
        unknown = [f for f in fields if f not in FIELDS]
        if unknown:
            raise ConfigError(where, f"unknown field {{{unknown[0]}}} in {template!r}; the fields: "
                                     + ", ".join("{" + f + "}" for f in FIELDS))
    return words


def command(words: list[str], decision: AutoscaleDecision) -> list[str]:
    values = {"service": decision.service, "desired": decision.desired_replicas,
              "current": decision.current_replicas, "limiting_target": decision.limiting_target}
    return [w.format(**values) for w in words]


def run(template: str, decisions, dry_run: bool = True, timeout_s: float = 60.0, runner=subprocess.run) -> list[Result]:
    """One Result per decision (AutoscaleDecision or its JSON row)."""
    words = parse_template(template)
    out = []
    for row in decisions:
        d = row if isinstance(row, AutoscaleDecision) else codec.decode(AutoscaleDecision, row)
        base = (d.service, d.current_replicas, d.desired_replicas)
        if d.desired_replicas == d.current_replicas:
            out.append(Result(*base, "unchanged", message=f"{d.current_replicas} replicas already"))
            continue
        argv = command(words, d)
        shown = shlex.join(argv)
        if dry_run:
            out.append(Result(*base, "planned", shown, "dry-run: not run (pass --apply to run it)"))
            continue
        try:
            done = runner(argv, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            out.append(Result(*base, "failed", shown, f"did not finish in {timeout_s:g}s"))
            continue
        except OSError as exc:
            out.append(Result(*base, "failed", shown, f"cannot run {argv[0]}: {exc}"))
            continue
        tail = (done.stderr or done.stdout or "").strip()[-300:]
        if done.returncode != 0:
            out.append(Result(*base, "failed", shown, f"exit {done.returncode}: {tail}"))
        else:
            out.append(Result(*base, "ran", shown, tail))
    return out
