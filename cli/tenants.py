"""``stackeye tenants <create|list>``: the tenants of the key file.

A new tenant comes with an ingest token (for its agents and SDKs) and a read API key, printed once:
only their hashes are kept.
"""
from __future__ import annotations

import argparse
import json

from stackeye.auth.principal import INGEST, READ
from stackeye.cli import key_file
from stackeye.cli.output import render

HELP = "tenants: create one (with an ingest token and a read API key), list them"
EPILOG = """examples:
  stackeye tenants create team-a                    # prints team-a's ingest token and read API key, once
  stackeye tenants list
  stackeye tenants create team-b --data-dir /var/lib/stackeye   # the key file of that `stackeye up`
  stackeye tenants list --keys-file /etc/stackeye/keys.json --format json

Then: agents and SDKs send 'authorization: Bearer <ingest token>'; API calls 'authorization: Bearer
<API key>'. More keys: stackeye keys create --tenant team-a --role admin
"""


def configure(parser) -> None:
    sub = parser.add_subparsers(dest="tenants_subcommand", metavar="SUBCOMMAND")
    create = sub.add_parser("create", help="a new tenant, its ingest token and a read API key (printed once)",
                            description="a new tenant, its ingest token and a read API key (printed once)",
                            epilog="example:\n  stackeye tenants create team-a\n",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    create.add_argument("name", help="lower-case letters, digits, '_' or '-' (1-63, e.g. team-a)")
    create.add_argument("--format", "-f", choices=("text", "json"), default="text")
    key_file.add_flags(create)
    create.set_defaults(_tenants_run=_create)
    listing = sub.add_parser("list", help="the tenants and how many live keys each has",
                             description="the tenants and how many live keys each has",
                             epilog="example:\n  stackeye tenants list --format json\n",
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    listing.add_argument("--format", "-f", choices=("table", "json"), default="table")
    key_file.add_flags(listing)
    listing.set_defaults(_tenants_run=_list)
    parser.set_defaults(_tenants_parser=parser)


def run(args) -> int:
    if not getattr(args, "_tenants_run", None):
        args._tenants_parser.print_help()
        return 2
    return args._tenants_run(args)


def _create(args) -> int:
    store, who = key_file.open_store(args), key_file.actor()
    tenant = store.create_tenant(args.name, who)
    ingest, ingest_secret = store.create_key(tenant.name, INGEST, who, "created with the tenant")
    read, read_secret = store.create_key(tenant.name, READ, who, "created with the tenant")
    if args.format == "json":
        print(json.dumps({"tenant": tenant.name, "ingest_token": {"id": ingest.id, "secret": ingest_secret},
                          "api_key": {"id": read.id, "role": READ, "secret": read_secret}}, indent=2))
        return 0
    print(f"tenant {tenant.name} created in {store.path}\n"
          f"ingest token ({ingest.id}): {ingest_secret}\n"
          f"read API key ({read.id}):  {read_secret}\n"
          "These secrets are shown this once; keep them now (only their hashes are stored).")
    return 0


def _list(args) -> int:
    store = key_file.open_store(args)
    rows = []
    for t in store.tenants():
        live = [k for k in store.keys(t.name) if not k.revoked]
        rows.append([t.name, t.created_at, t.created_by, len(live)])
    columns = ["tenant", "created_at", "created_by", "live_keys"]
    print(render(columns, rows, "json" if args.format == "json" else "table"))
    return 0
