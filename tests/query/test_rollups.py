"""The rollups (materialized views) and raw spans give the same answers, and the migrations are
exactly what rollups.py generates."""
from __future__ import annotations

import dataclasses
import datetime as dt
import os

import pytest
from stackeye.query.views import registry, rollups
from stackeye.query.views.params import Window
from support.query_expected import END, FROM, TO

ROLLUP_VIEWS = [v.name for v in registry.all_views() if v.uses_rollups]
WINDOWS = {
    "whole": (FROM, TO),
    "ragged": (FROM + dt.timedelta(minutes=7, seconds=13.5), END - dt.timedelta(minutes=3, seconds=41)),
    "hours": (FROM, END),
    "sub_minute": (FROM + dt.timedelta(minutes=29, seconds=50), FROM + dt.timedelta(minutes=30, seconds=35)),
}


def same_row(a, b) -> bool:
    """Equal, except floats may differ in the last rounded digit: sums of floats merged in another
    order (host metrics) can land on the other side of a rounding boundary."""
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, float) and isinstance(y, float):
            if abs(x - y) > max(0.0011, 1e-9 * abs(x)):
                return False
        elif x != y:
            return False
    return True


@pytest.mark.parametrize("window", sorted(WINDOWS))
@pytest.mark.parametrize("name", ROLLUP_VIEWS)
def test_rollups_agree_with_raw_spans(demo, name, window):
    start, end = WINDOWS[window]
    view = registry.get(name)
    kw = {"from": start.isoformat(), "to": end.isoformat()}
    if any(p.name == "limit" for p in view.params):
        kw["limit"] = 10_000
    fast = view.run(demo.storage, **kw)
    raw = view.run(demo.storage, use_rollups=False, **kw)
    assert fast.rows, "the window holds data"
    assert len(fast.rows) == len(raw.rows)
    for a, b in zip(fast.rows, raw.rows):
        assert same_row(a, b), (a, b)
    if window != "sub_minute":
        assert any("stackeye_" in s for s in fast.sql) and not any("stackeye_" in s for s in raw.sql)


def test_rollup_tables_hold_fewer_rows_than_their_source(demo):
    for r in rollups.ROLLUPS:
        spans = demo.storage.query(f"SELECT count() FROM {r.source}").rows[0][0]
        n1m = demo.storage.query(f"SELECT count() FROM {r.table('1m')} FINAL").rows[0][0]
        n1h = demo.storage.query(f"SELECT count() FROM {r.table('1h')} FINAL").rows[0][0]
        assert 0 < n1h < n1m < spans, r.name


def test_plan_covers_the_window_exactly_once():
    base = dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc)
    for a, b in [(0, 3600), (13.5, 7300.25), (59, 61), (3600, 3600 * 30 + 5), (10, 20), (0, 60), (60, 7200)]:
        w = Window(base + dt.timedelta(seconds=a), base + dt.timedelta(seconds=b))
        segments = rollups.plan(w)
        assert segments[0][1].start == w.start and segments[-1][1].end == w.end
        for (_, x), (_, y) in zip(segments, segments[1:]):
            assert x.end == y.start
        for grain, s in segments:
            if grain == "1h":
                assert s.start.minute == s.start.second == 0 and s.end.minute == 0
            if grain == "1m":
                assert s.start.second == s.end.second == 0 and s.start.microsecond == 0


@pytest.mark.parametrize("name", sorted(rollups.generated_migrations()))
def test_migrations_are_generated_from_rollups_py(name):
    path = os.path.join(rollups.schema_dir(), name)
    with open(path) as f:
        assert f.read() == rollups.generated_migrations()[name], "run: python -m stackeye.query.views.rollups"


def test_backfill_fills_a_rollup_like_its_materialized_views(demo):
    """Backfill into copies of the 1 m and 1 h tables (the 1 h copy fed by a copy of the chained view)."""
    r = rollups.ERRORS
    st = demo.storage
    st.execute(f"CREATE TABLE bf_1m AS {r.table('1m')}")
    st.execute(f"CREATE TABLE bf_1h AS {r.table('1h')}")
    st.execute("CREATE MATERIALIZED VIEW bf_1h_mv TO bf_1h AS " + r.rollup_select().replace(r.table("1m"), "bf_1m"))
    (stmt,) = rollups.backfill_statements(r)
    st.execute(stmt.replace(f"INSERT INTO {r.table('1m')}", "INSERT INTO bf_1m"))
    cols = ", ".join(r.key_names)
    for grain in ("1m", "1h"):
        mine = st.query(f"SELECT Bucket, {cols}, countMerge(Calls) FROM bf_{grain} GROUP BY Bucket, {cols} ORDER BY ALL").rows
        mv = st.query(f"SELECT Bucket, {cols}, countMerge(Calls) FROM {r.table(grain)} GROUP BY Bucket, {cols} "
                      "ORDER BY ALL").rows
        assert mine == mv and mine, grain
