"""external: outbound calls per service and peer (``server.address:server.port``, or the older
``net.peer.name:net.peer.port``) from CLIENT/PRODUCER spans that are not database calls: calls,
error rate, avg/p95 and the peer's share of all external time (the "slowest external services"
list). Served from the ``external`` rollup."""
from __future__ import annotations

import dataclasses

from stackeye.query.views import common, rollups
from stackeye.query.views import sql as q
from stackeye.query.views.base import View
from stackeye.query.views.params import OFFSET, SERVICE, Param, Params, limit, sort


@dataclasses.dataclass(frozen=True)
class ExternalRow:
    service: str
    peer: str  # host:port ('' when the span recorded no address)
    calls: int
    errors: int
    error_rate: float
    avg_ms: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    time_share_pct: float  # this peer's total call time / all external call time in the scope, %


ORDER = {"time": "total_ns", "calls": "calls", "error_rate": "error_rate", "avg_ms": "avg_ms", "p95_ms": "p95_ms"}
PEER = Param("peer", help="only this host:port")


def build(p: Params, use_rollups: bool) -> str:
    states = rollups.states(rollups.EXTERNAL, p.window, common.eq("ServiceName", p["service"]), use_rollups)
    peer = f"WHERE peer = {q.lit(p['peer'])}" if p["peer"] else ""
    return f"""
SELECT * FROM (
  SELECT ServiceName AS service, Peer AS peer, countMerge(Calls) AS calls, countIfMerge(Errors) AS errors,
    {q.frac('errors', 'calls')} AS error_rate, sumMerge(DurationSum) AS total_ns,
    {', '.join(common.duration_columns('d'))},
    {q.pct('total_ns', 'sum(total_ns) OVER ()')} AS time_share_pct
  FROM ({states})
  GROUP BY ServiceName, Peer
)
{peer}
{common.page(p, ORDER, 'service, peer')}"""


VIEW = View(
    "external", "outbound calls per service and host:port: calls, errors, avg/p95, share of external time",
    ExternalRow, (sort(*ORDER), limit(), OFFSET, SERVICE, PEER), build, uses_rollups=True,
    examples=("stackeye query external --since 1h --sort time",),
)
