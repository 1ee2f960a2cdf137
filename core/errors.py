"""Errors that no retry can fix: the message names the fix, ``stackeye`` prints it and exits 2.

Bad flags or config, a missing Python package, a malformed URL, a refused password, a server too
old, a directory the process cannot write. Errors that may go away (a server unreachable) are not
:class:`Fatal`: the processes retry those.
"""
from __future__ import annotations

import importlib

CLUSTER_INSTALL = "pip install 'stackeye[cluster]'"
REINSTALL = "reinstall stackeye: pip install --force-reinstall stackeye"


class Fatal(Exception):
    """Stop now: ``stackeye <command>: error: <message>``, exit code 2."""


def require_module(module: str, package: str, install: str):
    """Import ``module`` or raise :class:`Fatal` with the command that installs ``package``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise Fatal(f"the Python package {package} is not installed or broken ({exc}); install it: {install}") from None
