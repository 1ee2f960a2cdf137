"""``stackeye query <view>``: an APM view as a table, JSON or CSV."""
from __future__ import annotations

import os
import sys
import urllib.parse

from stackeye.cli import api_client
from stackeye.cli.output import FORMATS, render

HELP = "show an APM view: servers, services, transactions, external, database, errors, logs, trace, …"
EPILOG = """examples:
  stackeye query servers --since 15m                 # the Servers table
  stackeye query services --since 1h --sort error_rate
  stackeye query external --since 1h --sort time     # slowest external services
  stackeye query transactions --service checkout --format json
  stackeye query database --since 24h --limit 20
  stackeye query logs --service checkout --severity error --text timeout
  stackeye query trace 4bf92f3577b34da6a3ce929d0e0e4736
  stackeye query callstack --service checkout --route "POST /checkout"
  stackeye query services --from 2026-11-26T09:00:00Z --to 2026-11-26T10:00:00Z --format csv

The view runs in the stackeye at --url (the local `stackeye up` by default); when nothing runs
there, the data directory (--data-dir) is opened directly. `stackeye query VIEW --help` lists
every parameter; a parameter a view does not take is an error.
"""


def _param_names() -> dict[str, str]:
    from stackeye.query.views import registry

    names: dict[str, str] = {}
    for view in registry.all_views():
        for p in view.all_params:
            names.setdefault(p.name, p.help + (f" (one of: {', '.join(p.choices)})" if p.choices else ""))
    return names


def configure(parser) -> None:
    from stackeye.query.views import registry

    parser.add_argument("view", metavar="VIEW", help="one of: " + ", ".join(registry.VIEWS))
    parser.add_argument("arg", nargs="?", help="the view's required parameter, e.g. the trace id of `trace`")
    for name, help_ in _param_names().items():
        parser.add_argument("--" + name.replace("_", "-"), dest="p_" + name, metavar=name.upper(), help=help_)
    parser.add_argument("--format", "-f", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("--url", default=os.environ.get("STACKEYE_URL", api_client.DEFAULT_URL),
                        help=f"a running stackeye's API (default: {api_client.DEFAULT_URL})")
    parser.add_argument("--data-dir", default=os.environ.get("STACKEYE_DATA_DIR", "./stackeye-data"),
                        help="data directory opened when nothing runs at --url (default: ./stackeye-data)")


class ViewFailed(Exception):
    pass


def run(args) -> int:
    from stackeye.cli.errors import UsageError
    from stackeye.query.views import registry

    try:
        view = registry.get(args.view)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    params = {k[2:]: v for k, v in vars(args).items() if k.startswith("p_") and v is not None}
    if args.arg is not None:
        required = [p.name for p in view.params if p.required]
        if not required:
            raise UsageError(f"view {view.name} takes no positional argument (got {args.arg!r})")
        params.setdefault(required[0], args.arg)
    try:
        try:
            doc = _over_http(args.url, view.name, params)
        except ConnectionRefusedError:
            path = os.path.join(args.data_dir, "clickhouse")
            if not os.path.isdir(path):
                print(f"stackeye query: nothing is running at {args.url} and there is no data directory at {path}; "
                      "start `stackeye up` or pass --url / --data-dir", file=sys.stderr)
                return 1
            doc = _direct("chdb://" + os.path.abspath(path), view, params)
    except ViewFailed as exc:
        print(f"stackeye query: {exc}", file=sys.stderr)
        return 1
    except _BadParameter as exc:
        raise UsageError(str(exc)) from None
    rows = doc["rows"]
    print(render(view.columns, [[r.get(c) for c in view.columns] for r in rows], args.format))
    return 0


class _BadParameter(Exception):
    pass


def _over_http(url: str, name: str, params: dict) -> dict:
    target = f"{url.rstrip('/')}/api/v1/views/{name}?{urllib.parse.urlencode(params)}"
    return api_client.request_json(target, url, ViewFailed, bad_request=_BadParameter)


def _direct(url: str, view, params: dict) -> dict:
    from stackeye.query.views.params import ParamError
    from stackeye.storage.base import StorageError
    from stackeye.storage.factory import open_storage

    try:
        parsed = view.parse(params)
    except ParamError as exc:
        raise _BadParameter(str(exc)) from None
    try:
        storage = open_storage(url)
    except StorageError as exc:
        raise ViewFailed(str(exc)) from None
    try:
        return view.run_params(storage, parsed).to_json()
    except ParamError as exc:
        raise _BadParameter(str(exc)) from None
    except StorageError as exc:
        raise ViewFailed(str(exc)) from None
    finally:
        storage.close()
