"""``stackeye keys <create|revoke|list>``: the ingest tokens and API keys of the key file.

A secret is printed once, at creation; listings show ids, roles and labels, never secrets. A revoke
takes effect on a running ``stackeye up`` at its next request.
"""
from __future__ import annotations

import argparse
import json
import sys

from stackeye.auth.principal import ROLES
from stackeye.cli import key_file
from stackeye.cli.output import render

HELP = "ingest tokens and API keys: create (secret printed once), revoke, list (no secrets)"
EPILOG = """examples:
  stackeye keys create --tenant team-a --role admin --label "alice's laptop"
  stackeye keys create --tenant team-a --role ingest --label k8s-prod    # for agents and SDKs
  stackeye keys list --tenant team-a
  stackeye keys revoke 3f9a01c2                      # refused from the next request on, no restart
"""
COLUMNS = ["id", "tenant", "role", "label", "created_at", "created_by", "revoked_at", "revoked_by"]


def _leaf(sub, name: str, help: str, example: str):
    p = sub.add_parser(name, help=help, description=help, epilog=f"example:\n  {example}\n",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    key_file.add_flags(p)
    return p


def configure(parser) -> None:
    sub = parser.add_subparsers(dest="keys_subcommand", metavar="SUBCOMMAND")
    create = _leaf(sub, "create", "a new key of a tenant; its secret is printed once",
                   "stackeye keys create --tenant team-a --role read --label grafana")
    create.add_argument("--tenant", required=True, help="an existing tenant (stackeye tenants list)")
    create.add_argument("--role", required=True, choices=ROLES,
                        help="read: query the API; admin: also manage the tenant's keys; ingest: send telemetry")
    create.add_argument("--label", default="", help="what the key is for (shown in listings)")
    create.add_argument("--format", "-f", choices=("text", "json"), default="text")
    create.set_defaults(_keys_run=_create)
    revoke = _leaf(sub, "revoke", "revoke a key: refused from the next request on", "stackeye keys revoke 3f9a01c2")
    revoke.add_argument("key_id", metavar="KEY_ID", help="the key's id (stackeye keys list)")
    revoke.set_defaults(_keys_run=_revoke)
    listing = _leaf(sub, "list", "the keys (no secrets)", "stackeye keys list --tenant team-a")
    listing.add_argument("--tenant", help="only this tenant's keys")
    listing.add_argument("--format", "-f", choices=("table", "json"), default="table")
    listing.set_defaults(_keys_run=_list)
    parser.set_defaults(_keys_parser=parser)


def run(args) -> int:
    if not getattr(args, "_keys_run", None):
        args._keys_parser.print_help()
        return 2
    return args._keys_run(args)


def _create(args) -> int:
    key, secret = key_file.open_store(args).create_key(args.tenant, args.role, key_file.actor(), args.label)
    if args.format == "json":
        print(json.dumps({"key": key.public(), "secret": secret}, indent=2))
    else:
        print(f"{key.role} key {key.id} of tenant {key.tenant}: {secret}\n"
              "The secret is shown this once; keep it now (only its hash is stored).")
    return 0


def _revoke(args) -> int:
    store = key_file.open_store(args)
    before = store.key(args.key_id)
    key = store.revoke(args.key_id, key_file.actor())
    if before is not None and before.revoked:
        print(f"key {key.id} was revoked already, at {key.revoked_at} by {key.revoked_by}", file=sys.stderr)
    else:
        print(f"key {key.id} ({key.role}, tenant {key.tenant}) revoked")
    return 0


def _list(args) -> int:
    keys = key_file.open_store(args).keys(args.tenant)
    rows = [[k.public()[c] for c in COLUMNS] for k in keys]
    print(render(COLUMNS, rows, "json" if args.format == "json" else "table"))
    return 0
