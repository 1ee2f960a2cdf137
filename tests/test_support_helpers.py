"""The shared test helpers themselves: tests/support/wait.py and tests/support/logs.py."""
from __future__ import annotations

import doctest
import itertools

import pytest
import support.wait
from support.logs import log_tail
from support.wait import WaitTimeout, wait_until


def test_doctests():
    failed, _ = doctest.testmod(support.wait)
    assert failed == 0


def test_returns_the_first_truthy_value():
    values = iter([0, None, "", {"status": "ok"}])
    assert wait_until(lambda: next(values), timeout=30, interval=0) == {"status": "ok"}


def test_timeout_names_the_message_and_the_last_value():
    counter = itertools.count()
    with pytest.raises(WaitTimeout, match=r"count below 0: still not true after 0.05 s \(last value: False\)") as err:
        wait_until(lambda: next(counter) < 0, timeout=0.05, interval=0.01, message="count below 0")
    assert err.value.last is False and isinstance(err.value, AssertionError)


def test_message_may_be_computed_at_the_timeout():
    state = {"log": "starting"}

    def check():
        state["log"] = "crashed: port in use"
        return False

    with pytest.raises(WaitTimeout, match="port in use"):
        wait_until(check, timeout=0.02, interval=0.01, message=lambda: f"server log: {state['log']}")


def test_ignored_exceptions_mean_not_yet_and_the_last_one_is_reported():
    attempts = iter([ConnectionRefusedError("refused"), ConnectionResetError("reset"), "up"])

    def connect():
        a = next(attempts)
        if isinstance(a, Exception):
            raise a
        return a

    assert wait_until(connect, timeout=30, interval=0, ignore=(OSError,)) == "up"

    def refused():
        raise ConnectionRefusedError("nobody listens")

    with pytest.raises(WaitTimeout, match=r"last error: ConnectionRefusedError\('nobody listens'\)") as err:
        wait_until(refused, timeout=0.02, interval=0.01, ignore=(OSError,))
    assert isinstance(err.value.error, ConnectionRefusedError)


def test_other_exceptions_propagate_at_once():
    calls = []

    def died():
        calls.append(1)
        raise RuntimeError("the process exited with 1")

    with pytest.raises(RuntimeError, match="exited with 1"):
        wait_until(died, timeout=30, ignore=(OSError,))
    assert len(calls) == 1


def test_not_required_returns_the_last_value():
    assert wait_until(lambda: 0, timeout=0.02, interval=0.01, required=False) == 0


def test_log_tail_keeps_the_end_of_each_existing_file(tmp_path):
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_bytes(b"x" * 100 + b"the end of a")
    b.write_bytes(b"b says \xff hi")
    assert log_tail(str(a), n=12) == "the end of a"
    assert log_tail(str(a), str(tmp_path / "missing.log"), str(b), n=12) == "the end of a\nb says \ufffd hi"
    assert log_tail(str(tmp_path / "missing.log")) == ""
