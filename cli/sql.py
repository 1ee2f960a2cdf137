"""``stackeye sql``: run read-only SQL on the telemetry tables."""
from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

from stackeye.app.query_limits import SETTING_OF_LIMIT, query_limits
from stackeye.app.up_config import UpConfig
from stackeye.cli import api_client
from stackeye.cli.options import add_config_flags, config_from_args
from stackeye.cli.output import FORMATS, render

HELP = "run read-only SQL on the telemetry tables (through a running stackeye, or on the data directly)"
EPILOG = """examples:
  stackeye sql "SELECT ServiceName, count() FROM otel_traces GROUP BY ServiceName"
  stackeye sql --format json "SELECT SpanName, quantile(0.95)(Duration)/1e6 AS p95_ms FROM otel_traces GROUP BY SpanName"
  stackeye sql --url http://10.0.0.5:8080 "SHOW TABLES"
  stackeye sql --clickhouse chdb:///var/lib/stackeye/clickhouse "SELECT count() FROM otel_logs"
  echo "SELECT 1" | stackeye sql -

Without --clickhouse, the query goes to the stackeye at --url; if none is running there, the
data directory (--data-dir) is opened directly. Queries are read-only and limited: through --url
by the server's limits, on storage opened directly by the --query-* settings below (the same as
`stackeye up`'s, from the same --config file and STACKEYE_QUERY_* environment).
"""


def configure(parser) -> None:
    parser.add_argument("query", help="the SQL, or - to read it from standard input")
    parser.add_argument("--format", "-f", choices=FORMATS, default="table", help="output format (default: table)")
    api_client.add_source_flags(parser, "query this storage directly instead")
    add_config_flags(parser, UpConfig, print_config=False, only=tuple(SETTING_OF_LIMIT.values()))


class SQLFailed(Exception):
    pass


def run(args) -> int:
    from stackeye.cli.errors import UsageError

    query = sys.stdin.read() if args.query == "-" else args.query
    if not query.strip():
        raise UsageError("empty query")
    try:
        if args.clickhouse:
            columns, rows = _direct(args.clickhouse, query, args)
        else:
            try:
                columns, rows = _over_http(args.url, query)
            except ConnectionRefusedError:
                path = os.path.join(args.data_dir, "clickhouse")
                if not os.path.isdir(path):
                    print(f"stackeye sql: nothing is running at {args.url} and there is no data directory at "
                          f"{path}; start `stackeye up` or pass --url / --clickhouse", file=sys.stderr)
                    return 1
                columns, rows = _direct("chdb://" + os.path.abspath(path), query, args)
    except SQLFailed as exc:
        print(f"stackeye sql: {exc}", file=sys.stderr)
        return 1
    print(render(columns, rows, args.format))
    return 0


def _over_http(url: str, query: str):
    req = urllib.request.Request(url.rstrip("/") + "/api/v1/sql", data=json.dumps({"query": query}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(api_client.authorized(req), timeout=600) as resp:
            doc = json.loads(resp.read())
    except urllib.error.HTTPError as err:
        body = err.read()
        try:
            message = json.loads(body).get("error", body.decode(errors="replace"))
        except ValueError:
            message = body.decode(errors="replace")
        raise SQLFailed(message) from None
    except urllib.error.URLError as err:
        if isinstance(err.reason, ConnectionRefusedError):
            raise err.reason from None
        raise SQLFailed(f"cannot reach {url}: {err.reason}") from None
    return doc["columns"], doc["rows"]


def _direct(url: str, query: str, args):
    from stackeye.cli.errors import UsageError
    from stackeye.storage.base import StorageError
    from stackeye.storage.factory import open_storage
    from stackeye.storage.url import StorageURLError

    limits = query_limits(config_from_args(UpConfig, args))
    try:
        storage = open_storage(url, limits=limits)
    except StorageURLError as exc:
        raise UsageError(str(exc)) from None
    except StorageError as exc:
        raise SQLFailed(str(exc)) from None
    try:
        result = storage.query(query, untrusted=True)
    except StorageError as exc:
        raise SQLFailed(str(exc)) from None
    finally:
        storage.close()
    return result.columns, result.rows
