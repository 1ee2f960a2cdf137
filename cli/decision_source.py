"""Where ``stackeye decide autoscale|routing`` get their decisions: the running ``stackeye up`` or the data.

Like ``stackeye query`` and ``stackeye sql``: with ``--clickhouse URL`` the storage is opened
directly; otherwise the stackeye at ``--url`` answers (``GET /api/v1/decisions/<kind>``, or
``POST`` with the policies of ``--policy FILE``), and when nothing runs there the data directory
is opened. Either way the evaluation is read-only (``persist=False``): it starts from the stored
state as of ``--at`` and stores nothing. A bad policy file exits 2 before anything is asked.
"""
from __future__ import annotations

import json
import os
import sys
import urllib.parse
import urllib.request

from stackeye.app.query_limits import SETTING_OF_LIMIT, query_limits
from stackeye.app.up_config import UpConfig
from stackeye.cli import api_client
from stackeye.cli.errors import UsageError
from stackeye.cli.options import add_config_flags, config_from_args
from stackeye.cli.output import FORMATS, render


class DecideFailed(Exception):
    pass


def add_flags(parser) -> None:
    parser.add_argument("--at", metavar="TIME", help="decide as of this instant: RFC 3339 (2026-11-26T10:00:00Z) "
                                                      "or -DURATION before now (-2h); default: now")
    parser.add_argument("--format", "-f", choices=FORMATS, default="table",
                        help="output format (default: table; json carries every field of a decision)")
    api_client.add_source_flags(parser, "evaluate on this storage directly")
    parser.add_argument("--print-policy", action="store_true",
                        help="print a policy table with every setting, its default and what it does, and exit")
    add_config_flags(parser, UpConfig, print_config=False, only=("policy", *SETTING_OF_LIMIT.values()))


def decide(kind: str, args, params: dict, columns: list[str]) -> int:
    """Evaluate ``kind`` with ``params`` (service / upstream), print the rows; the exit code."""
    from stackeye.decisions import policy_file

    if args.print_policy:
        print(policy_file.sample([kind]), end="")
        return 0
    try:
        rows = evaluate(kind, args, params)
    except DecideFailed as exc:
        print(f"stackeye decide {kind}: {exc}", file=sys.stderr)
        return 1
    print_rows(rows, columns, args.format)
    return 0


def print_rows(rows: list[dict], columns: list[str], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        print(render(columns, [[r.get(c) for c in columns] for r in rows], fmt))


def evaluate(kind: str, args, params: dict) -> list[dict]:
    """The decisions as JSON rows (what the API answers); DecideFailed when they cannot be had."""
    from stackeye.decisions import policy_file
    from stackeye.decisions.evaluate import parse_at
    from stackeye.query.views.params import ParamError

    config = config_from_args(UpConfig, args)
    policies = policy_file.load(config.policy) if config.policy else None  # ConfigError: exit 2
    try:
        at = parse_at(args.at, param="--at")
    except ParamError as exc:
        raise UsageError(f"--at: {exc.reason}") from None
    if args.clickhouse:
        return _direct(args.clickhouse, kind, params, at, policies, config)
    try:
        return _over_http(args.url, kind, params, args.at, policies)
    except ConnectionRefusedError:
        path = os.path.join(args.data_dir, "clickhouse")
        if not os.path.isdir(path):
            raise DecideFailed(f"nothing is running at {args.url} and there is no data directory at {path}; start "
                               "`stackeye up` or pass --url / --data-dir / --clickhouse") from None
        return _direct("chdb://" + os.path.abspath(path), kind, params, at, policies, config)


def _over_http(url: str, kind: str, params: dict, at: str | None, policies) -> list[dict]:
    base = f"{url.rstrip('/')}/api/v1/decisions/{kind}"
    query = {k: v for k, v in {**params, "at": at}.items() if v}
    if policies is None:
        req = urllib.request.Request(f"{base}?{urllib.parse.urlencode(query)}")
    else:
        req = urllib.request.Request(base, data=json.dumps({**query, "policies": policies.raw}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    return api_client.request_json(req, url, DecideFailed)["decisions"]


def _direct(url: str, kind: str, params: dict, at, policies, config) -> list[dict]:
    from stackeye.decisions import codec
    from stackeye.decisions.evaluate import Evaluator
    from stackeye.storage.base import StorageError
    from stackeye.storage.factory import open_storage
    from stackeye.storage.url import StorageURLError

    try:
        storage = open_storage(url, limits=query_limits(config))
    except StorageURLError as exc:
        raise UsageError(str(exc)) from None
    except StorageError as exc:
        raise DecideFailed(str(exc)) from None
    try:
        evaluator = Evaluator(storage, policies)
        if kind == "autoscale":
            rows = evaluator.autoscale(params.get("service"), at=at, persist=False)
        else:
            rows = evaluator.routing(params["upstream"], at=at, persist=False)
    except KeyError as exc:
        raise UsageError(str(exc.args[0]) if exc.args else str(exc)) from None
    except StorageError as exc:
        hint = " (a data directory from an older stackeye: run `stackeye migrate`)" if "UNKNOWN_TABLE" in str(exc) \
            or "Unknown table" in str(exc) else ""
        raise DecideFailed(f"{exc}{hint}") from None
    finally:
        storage.close()
    return [codec.encode(r) for r in rows]
