"""Pieces several views share: duration columns from merged states, entry-span selection, paging."""
from __future__ import annotations

from stackeye.query.views import sql as q
from stackeye.query.views.params import Param, Params

APDEX_T = Param(
    "apdex_t_ms", "choice", "500", "Apdex threshold T in ms (satisfied ≤ T, tolerating ≤ 4T)",
    choices=("25", "50", "100", "200", "250", "500", "1000", "2000"),
)


def duration_columns(prefix: str = "") -> list[str]:
    """avg/p50/p95/p99/max in ms from ``calls``, ``duration_sum``, ``duration_max``, ``duration_q`` states."""
    return [
        f"quantilesMerge(0.5, 0.95, 0.99)(DurationQ) AS {prefix}_q",
        f"{q.ms('sumMerge(DurationSum) / greatest(countMerge(Calls), 1)')} AS avg_ms",
        f"{q.ms(f'{prefix}_q[1]')} AS p50_ms",
        f"{q.ms(f'{prefix}_q[2]')} AS p95_ms",
        f"{q.ms(f'{prefix}_q[3]')} AS p99_ms",
        f"{q.ms('maxMerge(DurationMax)')} AS max_ms",
    ]


def entries(states_sql: str) -> str:
    """Entry spans only: SERVER/CONSUMER spans (EntryClass 1), or the root spans (EntryClass 2) of a
    service that has no SERVER/CONSUMER span in the window. (The second read of the states for the
    NOT IN touches two small key columns: twice as fast as a window function over all the states.)"""
    return (
        f"SELECT * FROM ({states_sql}) WHERE EntryClass = 1 OR (EntryClass = 2 AND ServiceName NOT IN "
        f"(SELECT ServiceName FROM ({states_sql}) WHERE EntryClass = 1))"
    )


def apdex(params: Params) -> str:
    """Apdex from the ``apdex_le`` counts: (satisfied + tolerating / 2) / calls."""
    t = int(params["apdex_t_ms"])
    i, j = q.APDEX_LADDER_MS.index(t) + 1, q.APDEX_LADDER_MS.index(4 * t) + 1
    return ("round(if(countMerge(Calls) = 0, 1, "
            f"(sumForEachMerge(ApdexLe)[{i}] + sumForEachMerge(ApdexLe)[{j}]) / 2 / countMerge(Calls)), 4)")


def page(params: Params, order: dict[str, str], tiebreak: str) -> str:
    """ORDER BY the chosen sort (descending), then ``tiebreak``; LIMIT/OFFSET."""
    return (f"ORDER BY {order[params['sort']]} DESC, {tiebreak}\n"
            f"LIMIT {int(params['limit'])} OFFSET {int(params['offset'])}")


def eq(column: str, value: str | None) -> str:
    return f"{column} = {q.lit(value)}" if value else ""


STEPS_S = (10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400)
INTERVAL = Param("interval", help="width of each point, e.g. 1m, 5m, 1h (default: about 60 points over the range)")


def interval_seconds(params: Params, points: int = 60) -> int:
    """The chosen or given interval in whole seconds (at least 10 s)."""
    from stackeye.query.views.params import ParamError, parse_duration

    if params.get("interval"):
        s = int(parse_duration(params["interval"], "interval").total_seconds())
        if s < 10:
            raise ParamError("interval", "must be at least 10s")
        if params.window.seconds / s > 5000:
            raise ParamError("interval", f"gives {int(params.window.seconds / s)} points; at most 5000")
        return s
    want = params.window.seconds / points
    return next((s for s in STEPS_S if s >= want), STEPS_S[-1])


def bucket(column: str, seconds: int) -> str:
    return f"toStartOfInterval({column}, INTERVAL {int(seconds)} SECOND)"


def iso(expr: str) -> str:
    return f"formatDateTime({expr}, '%Y-%m-%dT%H:%i:%SZ', 'UTC')"
