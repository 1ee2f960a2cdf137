"""``stackeye events``: the transitions of the trigger rules, newest first, with their deliveries."""
from __future__ import annotations

import datetime as dt
import json
import sys

from stackeye.cli import event_source
from stackeye.cli.errors import UsageError
from stackeye.cli.output import render

HELP = "trigger events (pending, firing, resolved), newest first, and how their notifications went"
EPILOG = """examples:
  stackeye events --since 1h
  stackeye events --rule checkout-errors --state firing --format json
  stackeye events --clickhouse chdb:///var/lib/stackeye/clickhouse --since 2026-11-26T00:00:00Z
  stackeye events --series 1h --since 7d          # transitions per rule and state, one bar per hour
"""
BARS = " ▁▂▃▄▅▆▇█"
COLUMNS = ["time", "rule", "state", "severity", "labels", "value", "delivered"]


def configure(parser) -> None:
    parser.add_argument("--since", default="24h", help="a duration before now (1h) or RFC 3339 (default: 24h)")
    parser.add_argument("--rule", help="only this rule")
    parser.add_argument("--state", choices=("pending", "firing", "resolved", "inactive"), help="only this state")
    parser.add_argument("--severity", choices=("critical", "warning", "info"), help="only this severity")
    parser.add_argument("--limit", type=int, default=1000, help="at most this many events (default: 1000)")
    parser.add_argument("--series", metavar="STEP", help="count transitions per rule and state in buckets of STEP "
                                                        "(5m, 1h) over --since, drawn as bars")
    parser.add_argument("--format", "-f", choices=("table", "json"), default="table")
    event_source.add_flags(parser)


def _series_direct(args) -> dict:
    from stackeye.app.triggers_api import parse_since
    from stackeye.events.store import EventStore
    from stackeye.query.views.params import ParamError, parse_duration

    try:
        since, step = parse_since(args.since), parse_duration(args.series, "series")
    except ParamError as exc:
        raise UsageError(f"--{exc.param}: {exc.reason}") from None
    until = dt.datetime.now(dt.timezone.utc)
    with event_source.opened(event_source.storage_url(args)) as storage:
        return {"series": EventStore(storage).series(since, until, int(max(step, 1)), args.rule, args.severity)}


def _bars(counts: list[int]) -> str:
    top = max(counts) or 1
    return "".join(BARS[0] if n == 0 else BARS[max(1, round(n / top * (len(BARS) - 1)))] for n in counts)


def _print_series(doc: dict, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(doc, indent=2))
        return
    rows = [[s["rule"], s["state"], sum(s["counts"]), max(s["counts"]), _bars(s["counts"])] for s in doc["series"]]
    print(render(["rule", "state", "total", "peak", "per step"], rows))


def _direct(args) -> list[dict]:
    from stackeye.app.triggers_api import parse_since
    from stackeye.events.store import EventStore
    from stackeye.query.views.params import ParamError

    try:
        since = parse_since(args.since)
    except ParamError as exc:
        raise UsageError(f"--since: {exc.reason}") from None
    with event_source.opened(event_source.storage_url(args)) as storage:
        return EventStore(storage).history(args.rule, args.state, args.severity, since, None, args.limit)


def run(args) -> int:
    if args.series:
        query = {"since": args.since, "rule": args.rule, "severity": args.severity, "step": args.series}
        try:
            if args.clickhouse:
                doc = _series_direct(args)
            else:
                try:
                    doc = event_source.get_json(args.url, "/api/v1/events/series", query)
                except ConnectionRefusedError:
                    doc = _series_direct(args)
        except event_source.Unreachable as exc:
            print(f"stackeye events: {exc}", file=sys.stderr)
            return 1
        _print_series(doc, args.format)
        return 0
    query = {"since": args.since, "rule": args.rule, "state": args.state, "severity": args.severity,
             "limit": str(args.limit)}
    try:
        if args.clickhouse:
            events = _direct(args)
        else:
            try:
                events = event_source.get_json(args.url, "/api/v1/events", query)["events"]
            except ConnectionRefusedError:
                events = _direct(args)
    except event_source.Unreachable as exc:
        print(f"stackeye events: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps(events, indent=2))
        return 0
    rows = [[e["time"], e["rule"], e["state"], e["severity"], e["labels"], e["value"],
             ",".join(f"{d['notifier']}:{d['outcome']}" for d in e["deliveries"]) or ("-" if e["notify"] else "")]
            for e in events]
    print(render(COLUMNS, rows))
    return 0
