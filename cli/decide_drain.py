"""``stackeye decide drain``: take a server out of an upstream's routing by hand, or put it back."""
from __future__ import annotations

import json
import sys
import urllib.request

from stackeye.cli import api_client, event_source

HELP = "drain a server of an upstream set by hand (weight 0, state drained) or put it back with --undo"
EPILOG = """examples:
  stackeye decide drain --upstream checkout --server 10.0.0.7:8080        # before maintenance on that host
  stackeye decide drain --upstream checkout --server 10.0.0.7:8080 --undo # back, from the floor weight up
  stackeye decide apply routing --upstream checkout --haproxy-socket /run/haproxy/admin.sock --backend checkout --apply

The drain is kept in the routing state (stackeye_decisions) of the running `stackeye up` (--url), or
of the data directory when nothing runs there: every later evaluation answers weight 0, state
"drained" for that server until --undo, and `decide apply` puts it in drain on the gateway.
"""


def configure(parser) -> None:
    parser.add_argument("--upstream", required=True, help="the upstream set (a [routing.<upstream>] key or a service)")
    parser.add_argument("--server", required=True, help="the server as the decisions name it (instance id or host:port)")
    parser.add_argument("--undo", action="store_true", help="put the server back instead")
    api_client.add_source_flags(parser, "keep the drain in this storage directly")


def run(args) -> int:
    body = {"upstream": args.upstream, "server": args.server, "drained": not args.undo}
    try:
        if args.clickhouse:
            answer = _direct(args, body)
        else:
            try:
                req = urllib.request.Request(f"{args.url.rstrip('/')}/api/v1/decisions/routing/drain",
                                             data=json.dumps(body).encode(), method="POST",
                                             headers={"Content-Type": "application/json"})
                answer = api_client.request_json(req, args.url, event_source.Unreachable, timeout=60)
            except ConnectionRefusedError:
                answer = _direct(args, body)
    except event_source.Unreachable as exc:
        print(f"stackeye decide drain: {exc}", file=sys.stderr)
        return 1
    print(f"{answer['upstream']}/{answer['server']}: {'drained' if answer['drained'] else 'back in routing'}")
    return 0


def _direct(args, body: dict) -> dict:
    """The drain kept in the storage itself (--clickhouse, or the data directory when nothing runs)."""
    from stackeye.decisions.evaluate import Evaluator
    from stackeye.storage.base import StorageError

    with event_source.opened(event_source.storage_url(args)) as storage:
        try:
            state = Evaluator(storage).drain(body["upstream"], body["server"], body["drained"])
        except StorageError as exc:
            raise event_source.Unreachable(str(exc)) from None
    return {**body, "drained": state.drained}
