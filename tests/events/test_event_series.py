"""The per-rule event series for charts: transitions counted per rule, state and bucket, zeros included."""
from __future__ import annotations

import datetime as dt

from stackeye.events.state import Event
from stackeye.events.store import EventStore, StoredEvent
from support import recent

T0 = recent.at(9, 0)
M = dt.timedelta(minutes=1)


def _event(rule, state, at, fp="f1"):
    return StoredEvent(Event(rule, fp, state, at, {"service": "checkout"}, 1.0, at), "warning", True)


def test_counts_per_rule_state_and_bucket(chdb_storage):
    storage = chdb_storage()
    store = EventStore(storage)
    store.record([_event("errors", "firing", T0 + 1 * M), _event("errors", "firing", T0 + 2 * M, "f2"),
                  _event("errors", "resolved", T0 + 7 * M), _event("latency", "firing", T0 + 12 * M),
                  _event("errors", "firing", T0 + 20 * M)])  # outside the range
    series = {(s["rule"], s["state"]): s for s in store.series(T0, T0 + 15 * M, 300)}
    assert set(series) == {("errors", "firing"), ("errors", "resolved"), ("latency", "firing")}
    assert series[("errors", "firing")]["counts"] == [2, 0, 0]
    assert series[("errors", "resolved")]["counts"] == [0, 1, 0]
    assert series[("latency", "firing")]["counts"] == [0, 0, 1]
    assert series[("latency", "firing")]["times"][1] == recent.iso(T0 + 5 * M).replace("Z", ".000Z")
    only = store.series(T0, T0 + 15 * M, 300, rule="latency")
    assert [s["rule"] for s in only] == ["latency"]


def test_the_cli_draws_the_series_as_bars():
    from stackeye.cli.events import _bars

    assert _bars([0, 1, 4, 8]) == " ▁▄█"
    assert _bars([0, 0]) == "  "
