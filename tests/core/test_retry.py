"""stackeye.core.retry: the backoff policy (seeded: exact) and the retry loop every sender uses."""
from __future__ import annotations

import random
import threading

import pytest
from stackeye.core.retry import Backoff, Stopped, retry, retry_on


class Flaky:
    """Fails with the given errors in turn, then returns "done"; counts its calls."""

    def __init__(self, *errors: BaseException):
        self.errors, self.calls = list(errors), 0

    def __call__(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def test_backoff_doubles_up_to_the_cap():
    b = Backoff(0.5, 4.0, random.Random(1))
    caps = [0.5, 1, 2, 4, 4, 4, 4, 4]
    for n, cap in enumerate(caps):
        assert cap / 2 <= b.delay(n) <= cap  # equal jitter: half fixed, half random
    assert b.delay(10_000) <= 4.0  # no overflow far into an outage


def test_backoff_jitter_is_seeded_and_spread():
    a, b = Backoff(1, 8, random.Random(7)), Backoff(1, 8, random.Random(7))
    waits = [a.delay(5) for _ in range(50)]
    assert waits == [b.delay(5) for _ in range(50)], "the same seed, the same waits"
    assert min(waits) >= 4 and max(waits) <= 8
    assert len({round(w, 6) for w in waits}) > 40, "jittered, not lockstep"


def test_backoff_refuses_impossible_bounds():
    for initial, maximum in ((0, 1), (-1, 1), (2, 1)):
        with pytest.raises(ValueError, match="0 < initial <= maximum"):
            Backoff(initial, maximum)


def test_retryable_errors_are_retried_with_growing_waits_and_the_hook_sees_each():
    op = Flaky(OSError("down 1"), OSError("down 2"), OSError("down 3"))
    seen = []
    policy = Backoff(0.001, 0.004, random.Random(3))
    twin = Backoff(0.001, 0.004, random.Random(3))
    expected = [twin.delay(n) for n in range(3)]
    result = retry(op, is_retryable=retry_on(OSError), policy=policy,
                   on_retry=lambda exc, attempt, delay: seen.append((str(exc), attempt, delay)))
    assert result == "done" and op.calls == 4
    assert [(e, a) for e, a, _ in seen] == [("down 1", 1), ("down 2", 2), ("down 3", 3)]
    assert [d for _, _, d in seen] == pytest.approx(expected)


def test_a_permanent_error_is_raised_at_the_first_attempt():
    op = Flaky(PermissionError("wrong password"), OSError("never reached"))
    seen = []
    with pytest.raises(PermissionError, match="wrong password"):
        retry(op, is_retryable=retry_on(OSError, when=lambda e: not isinstance(e, PermissionError)),
              on_retry=lambda *a: seen.append(a))
    assert op.calls == 1 and seen == []


def test_a_permanent_error_after_retries_is_raised_as_it_is():
    op = Flaky(TimeoutError("slow"), ValueError("bad request"))
    with pytest.raises(ValueError, match="bad request"):
        retry(op, is_retryable=retry_on(TimeoutError), policy=Backoff(0.001, 0.001))
    assert op.calls == 2


def test_stop_wakes_a_long_wait_at_once():
    stop = threading.Event()
    op = Flaky(*[OSError("down")] * 5)
    outcome = {}

    def run():
        try:
            retry(op, is_retryable=retry_on(OSError), stop=stop, policy=Backoff(3600, 3600),
                  on_retry=lambda *a: waiting.set())
        except Stopped as exc:
            outcome["stopped"] = exc

    waiting = threading.Event()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert waiting.wait(30)  # the first attempt failed: an hour-long wait begins
    stop.set()
    thread.join(30)
    assert not thread.is_alive(), "stop must end the wait, not let it run its hour"
    assert op.calls == 1, "no attempt after stop"
    assert str(outcome["stopped"].last_error) == "down"


def test_stop_already_set_lets_one_attempt_run_and_no_retry():
    stop = threading.Event()
    stop.set()
    op = Flaky(OSError("down"))
    with pytest.raises(Stopped):
        retry(op, is_retryable=retry_on(OSError), stop=stop, policy=Backoff(3600, 3600))
    assert op.calls == 1
    assert retry(Flaky(), is_retryable=retry_on(OSError), stop=stop) == "done"


def test_the_deadline_ends_retrying_with_the_last_error():
    op = Flaky(*[OSError(f"down {i}") for i in range(1000)])
    delays = []
    with pytest.raises(OSError, match=r"down \d+"):
        retry(op, is_retryable=retry_on(OSError), policy=Backoff(0.01, 0.02), deadline_s=0.2,
              on_retry=lambda exc, attempt, delay: delays.append(delay))
    assert 2 <= op.calls < 1000
    assert sum(delays) <= 0.2 + 1e-6, "no wait reaches past the deadline"


def test_a_zero_deadline_means_one_attempt():
    op = Flaky(OSError("down"))
    with pytest.raises(OSError):
        retry(op, is_retryable=retry_on(OSError), deadline_s=0)
    assert op.calls == 1
    with pytest.raises(ValueError, match="deadline_s"):
        retry(op, is_retryable=retry_on(OSError), deadline_s=-1)


def test_stopped_and_interrupts_are_never_retried():
    for error in (Stopped(None), KeyboardInterrupt()):
        op = Flaky(error)
        with pytest.raises(type(error)):
            retry(op, is_retryable=lambda exc: True, policy=Backoff(0.001, 0.001))
        assert op.calls == 1


def test_retry_on_needs_a_type():
    with pytest.raises(ValueError, match="exception type"):
        retry_on()
