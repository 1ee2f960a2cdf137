"""``stackeye triggers list``: each rule of the running stackeye (or of --triggers on the stored
state) and its active alerts."""
from __future__ import annotations

import json
import sys

from stackeye.cli import event_source
from stackeye.cli.output import render

HELP = "the trigger rules and the state of each label set (pending, firing)"
EPILOG = """examples:
  stackeye triggers list                                  # asks the running stackeye (GET /api/v1/triggers)
  stackeye triggers list --triggers triggers.toml --data-dir /var/lib/stackeye   # the stored state, directly
"""
COLUMNS = ["rule", "severity", "state", "labels", "since", "value"]


def configure(parser) -> None:
    parser.add_argument("--triggers", metavar="FILE", help="these rules, read on the stored state directly")
    parser.add_argument("--format", "-f", choices=("table", "json"), default="table")
    event_source.add_flags(parser)


def _direct(args) -> dict:
    from stackeye.app.triggers_api import rules_document
    from stackeye.events import rule_file
    from stackeye.events.engine import TriggerEngine

    class Service:  # what rules_document reads of the running service
        pass

    triggers = rule_file.load(args.triggers)
    with event_source.opened(event_source.storage_url(args)) as storage:
        service = Service()
        service.engine, service.path, service.triggers = TriggerEngine(storage, triggers), triggers.path, triggers
        return rules_document(service)


def run(args) -> int:
    try:
        if args.triggers:
            doc = _direct(args)
        else:
            doc = event_source.get_json(args.url, "/api/v1/triggers", {})
    except ConnectionRefusedError:
        print(f"stackeye triggers list: nothing is running at {args.url}; start `stackeye up --triggers FILE` or "
              "pass --triggers FILE to read the stored state", file=sys.stderr)
        return 1
    except event_source.Unreachable as exc:
        print(f"stackeye triggers list: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps(doc["rules"], indent=2))
        return 0
    rows = []
    for r in doc["rules"]:
        for a in r["active"] or [{"state": "ok", "labels": {}, "since": "", "value": None}]:
            rows.append([r["name"], r["severity"], a["state"], a["labels"], a["since"], a["value"]])
    print(render(COLUMNS, rows))
    return 0
