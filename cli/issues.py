"""``stackeye issues``: the error groups and their lifecycle; ``stackeye issues resolve|ignore|reopen FP``.

Asks the running stackeye (``GET /api/v1/issues``, ``POST /api/v1/issues/{fingerprint}/{action}``);
with ``--clickhouse`` — or when nothing runs at ``--url`` — reads and changes the stored issues directly.
"""
from __future__ import annotations

import datetime as dt
import json
import sys
import urllib.error
import urllib.request

from stackeye.cli import api_client
from stackeye.cli import event_source
from stackeye.cli.output import render
from stackeye.events import issues as lifecycle

HELP = "error groups as issues (new, open, resolved, ignored, regressed); resolve, ignore or reopen one"
EPILOG = """examples:
  stackeye issues --status regressed
  stackeye issues --format json
  stackeye issues resolve 3f2a9c0d11e4b7a5
"""
COLUMNS = ["fingerprint", "status", "exception_type", "message", "count", "last_seen", "services",
           "sample_trace_id"]


def configure(parser) -> None:
    parser.add_argument("action", nargs="?", choices=tuple(lifecycle.ACTIONS), help="change an issue's status")
    parser.add_argument("fingerprint", nargs="?", help="the issue to change (its fingerprint)")
    parser.add_argument("--status", choices=lifecycle.STATUSES, help="list only issues of this status")
    parser.add_argument("--format", "-f", choices=("table", "json"), default="table")
    event_source.add_flags(parser)


class NotFound(Exception):
    pass


def _post(url: str, path: str) -> dict:
    req = urllib.request.Request(f"{url.rstrip('/')}{path}", data=b"", method="POST")
    try:
        with urllib.request.urlopen(api_client.authorized(req), timeout=120) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        body = err.read().decode(errors="replace")
        try:
            message = json.loads(body).get("error", body)
        except ValueError:
            message = body
        if err.code == 404:
            raise NotFound(message) from None
        raise event_source.Unreachable(f"{url}{path} answered {err.code}: {message}") from None
    except urllib.error.URLError as err:
        if isinstance(err.reason, ConnectionRefusedError):
            raise err.reason from None
        raise event_source.Unreachable(f"cannot reach {url}: {err.reason}") from None


def _direct(args) -> dict:
    from stackeye.events.issue_sync import IssueSync

    with event_source.opened(event_source.storage_url(args)) as storage:
        sync = IssueSync(storage)
        if args.action:
            issue = sync.act(args.fingerprint, args.action, dt.datetime.now(dt.timezone.utc))
            if issue is None:
                raise NotFound(f"no issue has fingerprint {args.fingerprint!r}; `stackeye issues` lists them")
            return {"issue": lifecycle.document(issue)}
        return {"issues": [lifecycle.document(i) for i in sync.issues.latest(status=args.status)]}


def _remote(args) -> dict:
    if args.action:
        return _post(args.url, f"/api/v1/issues/{urllib.request.quote(args.fingerprint, safe='')}/{args.action}")
    return event_source.get_json(args.url, "/api/v1/issues", {"status": args.status})


def run(args) -> int:
    if args.action and not args.fingerprint:
        print(f"stackeye issues {args.action}: give the issue's FINGERPRINT (`stackeye issues` lists them)",
              file=sys.stderr)
        return 2
    try:
        if args.clickhouse:
            doc = _direct(args)
        else:
            try:
                doc = _remote(args)
            except ConnectionRefusedError:
                doc = _direct(args)
    except NotFound as exc:
        print(f"stackeye issues: {exc}", file=sys.stderr)
        return 1
    except event_source.Unreachable as exc:
        print(f"stackeye issues: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps(doc.get("issues", doc.get("issue")), indent=2))
        return 0
    issues = doc["issues"] if "issues" in doc else [doc["issue"]]
    rows = [[i["fingerprint"], i["status"], i["exception_type"], i["message"], i["count"], i["last_seen"],
             ",".join(i["services"]), i["sample_trace_id"]] for i in issues]
    print(render(COLUMNS, rows))
    return 0
