"""Directories a process keeps state in: created when missing, proven writable before it starts."""
from __future__ import annotations

import os
import tempfile

from stackeye.core.config import ConfigError


def ensure_writable_dir(path: str, key: str, fix: str) -> None:
    """Create ``path`` if needed and write a file in it; else a ConfigError (``key``) that ends with ``fix``."""
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ConfigError(key, f"cannot write to {path!r} ({exc.strerror or exc}); give a directory this user can "
                               f"write, e.g. {fix}") from None
