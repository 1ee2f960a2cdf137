"""``stackeye decide routing``: weight, state and breaker per server of an upstream set, and why."""
from __future__ import annotations

import sys

from stackeye.cli import decision_source

HELP = "weights, ejections and circuit breakers for the servers of an upstream set, and the reason"
EPILOG = """examples:
  stackeye decide routing --upstream checkout                 # the instances of service checkout
  stackeye decide routing --upstream payments --format json   # every field: success rate, latency ratio, limits
  stackeye decide routing --upstream checkout --policy policies.toml --at -15m
  stackeye decide routing --upstream checkout --render nginx --server-map r0=10.0.0.5:8080 --server-map r1=10.0.0.6:8080
  stackeye decide routing --upstream payments --render haproxy --render-output commands   # runtime API commands
  stackeye decide routing --upstream payments --render envoy                               # EDS ClusterLoadAssignment

The policy: the [routing.<upstream>] table of --policy (or of the running `stackeye up --policy`),
the defaults without one: source "instances" (the service's SERVER spans per replica), "peers"
(every caller's CLIENT spans per host:port) or "gateway" (the access logs of nginx/HAProxy).
Nothing is stored. A bad policy file exits 2 naming the policy, key and field.
--render prints the gateway's configuration instead of the table (docs/gateways.md); to put it in
place, see `stackeye decide apply routing --help`.
"""

COLUMNS = ["upstream", "server", "weight", "state", "breaker", "reason"]


def configure(parser) -> None:
    parser.add_argument("--upstream", required=True, help="the upstream set: a [routing.<upstream>] key, or a "
                                                          "service whose instances to route to")
    decision_source.add_flags(parser)
    from stackeye.decisions.gateways import RENDERERS

    parser.add_argument("--render", choices=RENDERERS, help="print this gateway's configuration for the "
                                                            "upstream instead of the table")
    parser.add_argument("--render-output", default="", metavar="FORM",
                        help="haproxy: config (default) or commands (the runtime API's); easegress: yaml "
                             "(default) or json")
    add_render_flags(parser)


def add_render_flags(parser) -> None:
    """The flags every rendering needs (also those of `stackeye decide apply routing`)."""
    parser.add_argument("--server-map", action="append", default=[], metavar="SERVER=HOST:PORT",
                        help="where a server listens, when it is an instance id rather than an address "
                             "(repeatable)")
    parser.add_argument("--server-map-file", metavar="FILE",
                        help='a TOML file of lines  "SERVER" = "HOST:PORT"  (--server-map wins over it)')
    parser.add_argument("--backend", default="", help="the gateway's name for the set: HAProxy's backend, "
                                                      "Envoy's cluster (default: the upstream)")


def render_options(args, output: str = ""):
    from stackeye.core.config import ConfigError
    from stackeye.decisions.gateways import RenderOptions
    from stackeye.decisions.gateways.targets import parse_server_map

    text = None
    if args.server_map_file:
        try:
            with open(args.server_map_file) as f:
                text = f.read()
        except OSError as exc:
            raise ConfigError("--server-map-file", f"cannot read {args.server_map_file}: {exc.strerror}") from None
    server_map = parse_server_map(args.server_map, text, where=f"--server-map-file {args.server_map_file}")
    return RenderOptions(server_map=server_map, backend=args.backend, output=output)


def run(args) -> int:
    if not args.render or args.print_policy:
        return decision_source.decide("routing", args, {"upstream": args.upstream}, COLUMNS)
    from stackeye.decisions import gateways

    options = render_options(args, args.render_output)
    try:
        rows = decision_source.evaluate("routing", args, {"upstream": args.upstream})
    except decision_source.DecideFailed as exc:
        print(f"stackeye decide routing: {exc}", file=sys.stderr)
        return 1
    print(gateways.render(args.render, args.upstream, rows, options), end="")
    return 0
