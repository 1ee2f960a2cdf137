"""``stackeye decide routing``: weight, state and breaker per server of an upstream set, and why."""
from __future__ import annotations

from stackeye.cli import decision_source

HELP = "weights, ejections and circuit breakers for the servers of an upstream set, and the reason"
EPILOG = """examples:
  stackeye decide routing --upstream checkout                 # the instances of service checkout
  stackeye decide routing --upstream payments --format json   # every field: success rate, latency ratio, limits
  stackeye decide routing --upstream checkout --policy policies.toml --at -15m

The policy: the [routing.<upstream>] table of --policy (or of the running `stackeye up --policy`),
the defaults without one: source "instances" (the service's SERVER spans per replica), "peers"
(every caller's CLIENT spans per host:port) or "gateway" (the access logs of nginx/HAProxy).
Nothing is stored. A bad policy file exits 2 naming the policy, key and field.
"""

COLUMNS = ["upstream", "server", "weight", "state", "breaker", "reason"]


def configure(parser) -> None:
    parser.add_argument("--upstream", required=True, help="the upstream set: a [routing.<upstream>] key, or a "
                                                          "service whose instances to route to")
    decision_source.add_flags(parser)
    # --render nginx|haproxy|envoy|easegress is added here by the gateways' renderers


def run(args) -> int:
    return decision_source.decide("routing", args, {"upstream": args.upstream}, COLUMNS)
