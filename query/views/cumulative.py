"""Cumulative sums and histograms read back over a window: their increase, and quantiles and
counts above a threshold from histogram buckets.

An agent reports counters as cumulative values since ``StartTimeUnix`` (when it began counting);
a restart starts a new series with a new start time. The increase of one series over ``[start,
end)`` is its last value in the window minus its base: the last value before the window (looked
for up to :data:`LOOKBACK_S` earlier), else 0 when the series began inside the window or is a key
its reporter had not seen yet (a status code first answered in the window, while the same agent's
other series of that metric were reported before it). A series that began shortly before the
window (within the lookback) and was first reported inside it counts the share of its first value
that falls in the window, in proportion to time (an agent that started just before the window);
an older one with no earlier sample in reach counts from its first value in the window. :func:`series_sql` returns one row per series with what that takes;
:func:`increases` does the subtraction (bucket by bucket for histograms), so resets never count
negative and a series that began in the window counts from zero.

Quantiles and "how many above t" come from explicit-bucket histograms by linear interpolation
within the bucket that holds them (the first bucket starts at 0; past the last bound the last
bound is the answer), as Prometheus' ``histogram_quantile`` does.
"""
from __future__ import annotations

import bisect
from typing import Iterable, Mapping

from stackeye.query.views import sql as q
from stackeye.query.views.params import Window

LOOKBACK_S = 900  # how far before the window the base value of a series is looked for
TABLES = {"sum": ("otel_metrics_sum", ("Value",)),
          "histogram": ("otel_metrics_histogram", ("Count", "Sum", "BucketCounts"))}


def series_sql(kind: str, metric: str, window: Window, keys: Mapping[str, str], where: str = "") -> str:
    """One row per series of ``metric`` (``kind`` sum or histogram) seen in ``window``: the ``keys``
    (alias → expression) and ``last_X``, ``first_X``, ``pre_X`` of each value column, ``pre`` (samples
    before the window) and ``fresh`` (the series began inside the window). ``where`` selects series
    (``selected``) without hiding the others: whether a reporter was seen before the window is
    judged on all its series of the metric."""
    table, values = TABLES[kind]
    ws, we = q.ts(window.start), q.ts(window.end)
    inside = f"TimeUnix >= {ws}"
    cols = [f"{expr} AS {alias}" for alias, expr in keys.items()]
    for v in values:
        cols += [f"argMaxIf({v}, TimeUnix, {inside}) AS last_{v}", f"argMinIf({v}, TimeUnix, {inside}) AS first_{v}",
                 f"argMaxIf({v}, TimeUnix, TimeUnix < {ws}) AS pre_{v}"]
    if kind == "histogram":
        cols.append(f"argMaxIf(ExplicitBounds, TimeUnix, {inside}) AS bounds")
    ns = "toUnixTimestamp64Nano"
    cols += [f"countIf(TimeUnix < {ws}) AS pre", f"toUInt8(StartTimeUnix >= {ws}) AS fresh",
             f"if(StartTimeUnix >= {ws} - INTERVAL {LOOKBACK_S} SECOND AND StartTimeUnix < {ws}, "
             f"({ns}({ws}) - {ns}(StartTimeUnix)) / greatest({ns}(minIf(TimeUnix, {inside})) - {ns}(StartTimeUnix), 1), "
             "1.0) AS before_share",
             "ServiceName AS series_service", "ResourceAttributes['host.name'] AS series_host",
             "toString(StartTimeUnix) AS series_start", f"max(toUInt8({where or '1'})) AS selected"]
    group = list(keys.values()) + ["ResourceAttributes['host.name']", "Attributes", "StartTimeUnix"]
    return (f"SELECT {', '.join(cols)} FROM {table} "
            f"WHERE MetricName = {q.lit(metric)} AND TimeUnix >= {ws} - INTERVAL {LOOKBACK_S} SECOND "
            f"AND TimeUnix < {we} "
            f"GROUP BY {', '.join(group)} HAVING countIf({inside}) > 0")


def _reporter(row: Mapping) -> tuple:
    return row["series_service"], row["series_host"], row["series_start"]


def _increase(row: Mapping, v: str, reported_before: set):
    last = row[f"last_{v}"]
    if row["pre"]:
        base = row[f"pre_{v}"]
    elif row["fresh"] or _reporter(row) in reported_before:
        base = [0] * len(last) if isinstance(last, (list, tuple)) else 0
    else:  # first reported in the window: what of its first value was counted before the window
        share = min(max(float(row["before_share"]), 0.0), 1.0)
        first = row[f"first_{v}"]
        base = [round(int(b) * share) for b in first] if isinstance(first, (list, tuple)) else float(first) * share
    if isinstance(last, (list, tuple)):
        if len(base) != len(last):  # the buckets changed within the series: count it from zero
            base = [0] * len(last)
        return [max(int(a) - int(b), 0) for a, b in zip(last, base)]
    return max(float(last) - float(base), 0.0)


def increases(kind: str, rows: Iterable[Mapping], keys: Iterable[str]) -> dict[tuple, dict]:
    """Rows of :func:`series_sql` → the increase per key tuple, series added up: ``{"value": n}``
    for sums, ``{"count", "sum", "bounds", "buckets"}`` for histograms (series whose bounds differ
    from the first seen for that key are left out)."""
    keys, rows = list(keys), list(rows)
    before = {_reporter(r) for r in rows if r["pre"]}
    out: dict[tuple, dict] = {}
    for row in rows:
        if not row["selected"]:
            continue
        key = tuple(row[k] for k in keys)
        if kind == "sum":
            out.setdefault(key, {"value": 0.0})["value"] += _increase(row, "Value", before)
            continue
        bounds = [float(b) for b in row["bounds"]]
        acc = out.setdefault(key, {"count": 0, "sum": 0.0, "bounds": bounds, "buckets": [0] * (len(bounds) + 1)})
        if acc["bounds"] != bounds:
            continue
        acc["count"] += int(_increase(row, "Count", before))
        acc["sum"] += _increase(row, "Sum", before)
        acc["buckets"] = [a + b for a, b in zip(acc["buckets"], _increase(row, "BucketCounts", before))]
    return out


def merge(histograms: Iterable[dict]) -> dict | None:
    """Histograms with the same bounds added up (None when there are none)."""
    total = None
    for h in histograms:
        if total is None:
            total = {"count": h["count"], "sum": h["sum"], "bounds": list(h["bounds"]), "buckets": list(h["buckets"])}
        elif h["bounds"] == total["bounds"]:
            total["count"] += h["count"]
            total["sum"] += h["sum"]
            total["buckets"] = [a + b for a, b in zip(total["buckets"], h["buckets"])]
    return total


def quantile(bounds: list[float], buckets: list[int], p: float) -> float | None:
    """The ``p`` quantile (0..1) of an explicit-bucket histogram; None when it is empty."""
    total = sum(buckets)
    if total <= 0:
        return None
    rank = p * total
    seen = 0
    for i, n in enumerate(buckets):
        if n and seen + n >= rank:
            if i == len(bounds):  # the overflow bucket: all we know is "above the last bound"
                return bounds[-1] if bounds else None
            lo = bounds[i - 1] if i > 0 else 0.0
            return lo + (bounds[i] - lo) * (rank - seen) / n
        seen += n
    return bounds[-1] if bounds else None


def count_above(bounds: list[float], buckets: list[int], threshold: float) -> float:
    """How many observations exceed ``threshold``: whole buckets above it, plus the share of the
    bucket holding it that lies above it (observations assumed spread evenly in a bucket); the
    overflow bucket counts whole."""
    i = bisect.bisect_left(bounds, threshold)  # bucket i holds (bounds[i-1], bounds[i]]
    above = float(sum(buckets[i + 1:]))
    if i < len(bounds):
        lo = bounds[i - 1] if i > 0 else 0.0
        width = bounds[i] - lo
        above += buckets[i] * ((bounds[i] - max(threshold, lo)) / width if width > 0 else 0.0)
    else:
        above += buckets[i]
    return above
