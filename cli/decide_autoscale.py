"""``stackeye decide autoscale``: the replicas each service needs, per target, and why."""
from __future__ import annotations

from stackeye.cli import decision_source

HELP = "desired replicas per service (CPU, requests/s, latency SLO, Kafka lag, forecast) and the reason"
EPILOG = """examples:
  stackeye decide autoscale                                   # every service of the running stackeye's policies
  stackeye decide autoscale --service checkout --format json  # one service, every recommendation and limit
  stackeye decide autoscale --policy policies.toml            # try a policy file against the live data
  stackeye decide autoscale --at 2026-11-26T10:00:00Z         # what it decided then (from the stored state)
  stackeye decide autoscale --at -2h --clickhouse chdb:///var/lib/stackeye/clickhouse

The policies: [autoscale.<service>] tables of --policy (or of the running `stackeye up --policy`);
services without a table get the defaults (docs/decisions.md lists every setting). Nothing is
stored: the evaluation starts from the state stored as of --at and leaves it as it was.
A bad policy file (unknown key, min_replicas > max_replicas, a target <= 0) exits 2 naming the
policy, key and field.
"""

COLUMNS = ["service", "current_replicas", "desired_replicas", "limiting_target", "reason"]


def configure(parser) -> None:
    parser.add_argument("--service", help="only this service (default: every service with a policy, or every "
                                          "live service when the file has none)")
    decision_source.add_flags(parser)


def run(args) -> int:
    return decision_source.decide("autoscale", args, {"service": args.service}, COLUMNS)
