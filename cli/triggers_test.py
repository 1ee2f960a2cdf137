"""``stackeye triggers test NAME``: measure one rule now (or --at) and show what it would do; nothing
is stored or sent."""
from __future__ import annotations

import json

from stackeye.cli import event_source
from stackeye.cli.errors import UsageError
from stackeye.cli.output import render

HELP = "dry-run one trigger rule: its observations and the transitions it would make (nothing stored or sent)"
EPILOG = """examples:
  stackeye triggers test checkout-errors --triggers triggers.toml
  stackeye triggers test checkout-errors --triggers triggers.toml --at 2026-11-26T10:00:00Z --clickhouse chdb:///var/lib/stackeye/clickhouse
"""


def configure(parser) -> None:
    parser.add_argument("name", metavar="NAME", help="the rule")
    parser.add_argument("--triggers", metavar="FILE", required=True, help="the triggers file the rule is in")
    parser.add_argument("--at", metavar="TIME", help="evaluate at this instant: RFC 3339 or -DURATION (default: now)")
    parser.add_argument("--format", "-f", choices=("table", "json"), default="table")
    event_source.add_flags(parser)


def run(args) -> int:
    import sys

    from stackeye.app.triggers_api import parse_since
    from stackeye.events import rule_file
    from stackeye.events.engine import TriggerEngine
    from stackeye.query.views.params import ParamError

    triggers = rule_file.load(args.triggers)  # a bad file: exit 2
    try:
        triggers.rule(args.name)
        at = parse_since(args.at, "--at")
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    except ParamError as exc:
        raise UsageError(f"--at: {exc.reason}") from None
    try:
        with event_source.opened(event_source.storage_url(args)) as storage:
            observations, events, failure = TriggerEngine(storage, triggers).dry_run(args.name, at)
    except event_source.Unreachable as exc:
        print(f"stackeye triggers test: {exc}", file=sys.stderr)
        return 1
    rule = triggers.rule(args.name)
    doc = {"rule": args.name, "error": failure.error if failure else None,
           "observations": [{"labels": dict(o.labels), "value": o.value, "holds": rule.holds(o.value)}
                            for o in observations],
           "transitions": [{"state": e.state, "labels": dict(e.labels), "value": e.value} for e in events]}
    if args.format == "json":
        print(json.dumps(doc, indent=2))
    else:
        if failure:
            print(f"{args.name}: the evaluation fails: {failure.error}")
        print(render(["labels", "value", "holds"], [[o["labels"], o["value"], o["holds"]] for o in doc["observations"]]))
        for t in doc["transitions"]:
            print(f"would become {t['state']}: {t['labels']} value={t['value']:g}")
    return 1 if failure else 0
