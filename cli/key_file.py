"""What ``stackeye tenants`` and ``stackeye keys`` share: which key file, and who is acting.

The file is ``stackeye up``'s own (``--data-dir``/``--keys-file``, the same settings, environment
and ``--config`` file as ``up``), changed in place while it runs: the server sees a change at its
next request.
"""
from __future__ import annotations

import getpass
import socket

from stackeye.app.up_config import UpConfig
from stackeye.auth.keystore import KeyStore
from stackeye.cli.options import add_config_flags, config_from_args


def add_flags(parser) -> None:
    add_config_flags(parser, UpConfig, print_config=False, only=("data_dir", "keys_file"))


def open_store(args) -> KeyStore:
    return KeyStore(config_from_args(UpConfig, args).keys_path())


def actor() -> str:
    """``cli:<user>@<host>``: how the key file and the audit name a change made here."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"
