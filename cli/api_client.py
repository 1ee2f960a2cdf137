"""How the CLI reaches a running stackeye: the ``--url``/``--clickhouse``/``--data-dir`` flags and one
JSON request helper.

A command first asks the running ``stackeye up`` at ``--url`` (chDB allows one process per data
path, so the running one must answer); when nothing listens there (``ConnectionRefusedError``,
re-raised for the caller to fall back on) it opens ``--clickhouse`` or ``--data-dir`` itself. An
answer of 400 is the user's mistake (``bad_request``, default :class:`UsageError`: exit 2 with the
server's message); any other failure is ``failure(message)``.
"""
from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.request

from stackeye.cli.errors import UsageError

DEFAULT_URL = "http://127.0.0.1:8080"


def add_source_flags(parser, direct: str = "read this storage directly") -> None:
    parser.add_argument("--url", default=os.environ.get("STACKEYE_URL", DEFAULT_URL),
                        help=f"a running stackeye's API (default: {DEFAULT_URL})")
    parser.add_argument("--clickhouse", metavar="URL", default=None,
                        help=f"{direct} (chdb:///path or clickhouse://host:9000/db)")
    parser.add_argument("--data-dir", default=os.environ.get("STACKEYE_DATA_DIR", "./stackeye-data"),
                        help="data directory opened when nothing runs at --url (default: ./stackeye-data)")
    parser.add_argument("--key", metavar="API_KEY", action=_KeyAction, default=None,
                        help="the API key sent to --url when it wants one (or STACKEYE_API_KEY; "
                             "`stackeye keys create --tenant T --role read`)")


class _KeyAction(argparse.Action):
    """``--key``: kept where :func:`request_json` finds it, as STACKEYE_API_KEY does."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        os.environ["STACKEYE_API_KEY"] = values


def authorized(request) -> urllib.request.Request:
    """``request`` (a URL or a urllib Request) with the API key of ``--key`` / STACKEYE_API_KEY, if any."""
    if isinstance(request, str):
        request = urllib.request.Request(request)
    key = os.environ.get("STACKEYE_API_KEY")
    if key and not request.has_header("Authorization"):
        request.add_header("Authorization", f"Bearer {key}")
    return request


def request_json(request, url: str, failure: type[Exception], timeout: float = 600.0,
                 bad_request: type[Exception] = UsageError):
    """The JSON answer to ``request`` (a URL or a urllib Request) sent to the stackeye at ``url``,
    with the API key of ``--key`` / STACKEYE_API_KEY when one is given."""
    request = authorized(request)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        body = err.read()
        try:
            message = json.loads(body).get("error", body.decode(errors="replace"))
        except (ValueError, AttributeError):
            message = body.decode(errors="replace")
        if err.code == 400:
            raise bad_request(message) from None
        raise failure(f"{err.code}: {message}") from None
    except urllib.error.URLError as err:
        if isinstance(err.reason, ConnectionRefusedError):
            raise err.reason from None
        raise failure(f"cannot reach {url}: {err.reason}") from None
