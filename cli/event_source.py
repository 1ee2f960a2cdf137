"""Where ``stackeye events`` and ``stackeye triggers list|test`` read: the running stackeye or the data.

Like ``stackeye sql``: with ``--clickhouse URL`` the storage is opened directly; otherwise the
stackeye at ``--url`` answers, and when nothing runs there the data directory is opened.
"""
from __future__ import annotations

import contextlib
import os
import urllib.parse

from stackeye.cli import api_client
from stackeye.cli.errors import UsageError


class Unreachable(Exception):
    pass


def add_flags(parser) -> None:
    api_client.add_source_flags(parser)


def get_json(url: str, path: str, query: dict) -> dict:
    """``GET url+path?query`` as JSON; ConnectionRefusedError when nothing listens, UsageError on a 400."""
    q = urllib.parse.urlencode({k: v for k, v in query.items() if v})
    return api_client.request_json(f"{url.rstrip('/')}{path}?{q}", url, Unreachable, timeout=120)


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
