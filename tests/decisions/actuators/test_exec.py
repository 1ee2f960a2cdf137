"""The --exec actuator: a command per changing autoscale decision, no shell, dry-run by default."""
from __future__ import annotations

import datetime as dt
import sys

import pytest
from stackeye.core.config import ConfigError
from stackeye.decisions import codec
from stackeye.decisions.actuators import exec as exec_actuator
from stackeye.decisions.model import AutoscaleDecision

AT = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)


def dec(service, current, desired):
    return AutoscaleDecision(service, AT, current, desired, "cpu", "t")


def test_dry_run_prints_quoted_commands_for_changing_decisions_only():
    rows = [codec.encode(dec("checkout", 2, 5)), codec.encode(dec("pay; rm -rf /", 1, 3)), dec("cart", 4, 4)]
    out = exec_actuator.run("kubectl scale deployment/{service} --replicas={desired}", rows)
    assert [(r.service, r.action) for r in out] == [("checkout", "planned"), ("pay; rm -rf /", "planned"),
                                                    ("cart", "unchanged")]
    assert out[0].command == "kubectl scale deployment/checkout --replicas=5"
    assert out[1].command == "kubectl scale 'deployment/pay; rm -rf /' --replicas=3"


def test_commands_run_as_argv_without_a_shell(tmp_path):
    log = tmp_path / "calls"
    script = f"import sys; open({str(log)!r}, 'a').write(repr(sys.argv[1:]) + '\\n')"
    template = f"{sys.executable} -c {script!r} {{service}} {{current}} {{desired}}"
    out = exec_actuator.run(template, [dec("a b", 1, 2), dec("c", 3, 1)], dry_run=False)
    assert [r.action for r in out] == ["ran", "ran"]
    assert log.read_text().splitlines() == ["['a b', '1', '2']", "['c', '3', '1']"]


def test_failures_and_timeouts_are_reported():
    fail = exec_actuator.run(f"{sys.executable} -c 'import sys; sys.exit(\"no such deployment\")'",
                             [dec("a", 1, 2)], dry_run=False)
    assert fail[0].action == "failed" and "exit 1" in fail[0].message and "no such deployment" in fail[0].message
    slow = exec_actuator.run(f"{sys.executable} -c 'import time; time.sleep(30)'", [dec("a", 1, 2)],
                             dry_run=False, timeout_s=0.5)
    assert slow[0].action == "failed" and "did not finish" in slow[0].message
    missing = exec_actuator.run("/nonexistent/kubectl {service}", [dec("a", 1, 2)], dry_run=False)
    assert missing[0].action == "failed" and "cannot run" in missing[0].message


@pytest.mark.parametrize("template, named", [
    ("", "empty command"), ("kubectl scale {svc}", "unknown field {svc}"), ("echo 'open", "quote"),
])
def test_bad_templates_are_config_errors(template, named):
    with pytest.raises(ConfigError, match=named):
        exec_actuator.parse_template(template)
