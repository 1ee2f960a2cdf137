"""The pure issue lifecycle: new → open, resolve, seen again → regressed, ignore keeps it quiet, reopen."""
from __future__ import annotations

import datetime as dt

import pytest
from stackeye.events import issues as lc

T0 = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.timezone.utc)


def at(m: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=m)


def group(m: float, count: int = 3, trace: str = "t", service: str = "checkout") -> lc.ErrorGroup:
    return lc.ErrorGroup("fp1", "KeyError", "user ? not found", count, at(m), at(m + 0.5), trace, (service,),
                         ("GET /u",))


def test_the_lifecycle_table():
    issue, t = lc.observe(None, group(0, trace="a"), at(1))
    assert (issue.status, t, issue.count) == (lc.NEW, lc.NEW, 3)
    issue, t = lc.observe(issue, group(1, 2, trace="b", service="cart"), at(2))
    assert (issue.status, t, issue.count, issue.sample_trace_id) == (lc.OPEN, None, 5, "b")
    assert issue.services == ("cart", "checkout") and issue.first_seen == at(0) and issue.last_seen == at(1.5)
    issue = lc.act(issue, "resolve", at(3))
    assert issue.status == lc.RESOLVED and issue.resolved_at == at(3)
    late, t = lc.observe(issue, group(2), at(4))  # errors from before the resolve, stored late
    assert (late.status, t, late.count) == (lc.RESOLVED, None, 8)
    issue, t = lc.observe(late, group(5, trace="c"), at(6))
    assert (issue.status, t, issue.regressions, issue.sample_trace_id) == (lc.REGRESSED, lc.REGRESSED, 1, "c")
    issue, t = lc.observe(issue, group(6), at(7))
    assert (issue.status, t) == (lc.REGRESSED, None)  # stays regressed, says it once
    issue = lc.act(issue, "ignore", at(8))
    issue, t = lc.observe(issue, group(9), at(10))
    assert (issue.status, t, issue.resolved_at) == (lc.IGNORED, None, None)
    issue = lc.act(issue, "reopen", at(11))
    assert issue.status == lc.OPEN
    issue, t = lc.observe(issue, group(12), at(13))
    assert (issue.status, t, issue.count) == (lc.OPEN, None, 20)


def test_a_new_issue_not_seen_again_ages_to_open():
    issue, _ = lc.observe(None, group(0), at(1))
    assert lc.age(issue, at(2)).status == lc.OPEN
    assert lc.age(lc.act(issue, "resolve", at(2)), at(3)) is None


def test_groups_merge_rows_of_one_fingerprint():
    rows = [{"fingerprint": "f", "exception_type": "E", "message": "m", "count": 2, "service": s, "route": "r",
             "first_seen": f"2030-01-01T12:0{i}:00.000Z", "last_seen": f"2030-01-01T12:0{i}:30.000Z",
             "sample_trace_id": f"t{i}"} for i, s in enumerate(("b", "a"))]
    g = lc.groups(rows)["f"]
    assert (g.count, g.services, g.sample_trace_id, g.first_seen) == (4, ("a", "b"), "t1", at(0))


def test_an_unknown_action_names_the_known_ones():
    issue, _ = lc.observe(None, group(0), at(1))
    with pytest.raises(lc.UnknownAction, match="resolve, ignore, reopen"):
        lc.act(issue, "delete", at(2))
