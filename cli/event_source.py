"""Where ``stackeye events`` and ``stackeye triggers list|test`` read: the running stackeye or the data.

Like ``stackeye sql``: with ``--clickhouse URL`` the storage is opened directly; otherwise the
stackeye at ``--url`` answers, and when nothing runs there the data directory is opened.
"""
from __future__ import annotations

import contextlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request

from stackeye.cli.errors import UsageError


class Unreachable(Exception):
    pass


def add_flags(parser) -> None:
    parser.add_argument("--url", default=os.environ.get("STACKEYE_URL", "http://127.0.0.1:8080"),
                        help="a running stackeye's API (default: http://127.0.0.1:8080)")
    parser.add_argument("--clickhouse", metavar="URL", default=None,
                        help="read this storage directly (chdb:///path or clickhouse://host:9000/db)")
    parser.add_argument("--data-dir", default=os.environ.get("STACKEYE_DATA_DIR", "./stackeye-data"),
                        help="data directory opened when nothing runs at --url (default: ./stackeye-data)")


def get_json(url: str, path: str, query: dict) -> dict:
    """``GET url+path?query`` as JSON; ConnectionRefusedError when nothing listens, UsageError on a 400."""
    q = urllib.parse.urlencode({k: v for k, v in query.items() if v})
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}{path}?{q}", timeout=120) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        body = err.read()
        try:
            message = json.loads(body).get("error", body.decode(errors="replace"))
        except ValueError:
            message = body.decode(errors="replace")
        if err.code == 400:
            raise UsageError(message) from None
        raise Unreachable(f"{url}{path} answered {err.code}: {message}") from None
    except urllib.error.URLError as err:
        if isinstance(err.reason, ConnectionRefusedError):
            raise err.reason from None
        raise Unreachable(f"cannot reach {url}: {err.reason}") from None


def storage_url(args) -> str:
    """The storage to open directly: --clickhouse, else the data directory (Unreachable when absent)."""
    if args.clickhouse:
        return args.clickhouse
    path = os.path.join(args.data_dir, "clickhouse")
    if not os.path.isdir(path):
        raise Unreachable(f"nothing is running at {args.url} and there is no data directory at {path}; start "
                          "`stackeye up` or pass --url / --data-dir / --clickhouse")
    return "chdb://" + os.path.abspath(path)


@contextlib.contextmanager
def opened(url: str):
    from stackeye.storage.base import StorageError
    from stackeye.storage.factory import open_storage
    from stackeye.storage.url import StorageURLError

    try:
        storage = open_storage(url)
    except StorageURLError as exc:
        raise UsageError(str(exc)) from None
    except StorageError as exc:
        raise Unreachable(str(exc)) from None
    try:
        yield storage
    finally:
        storage.close()
