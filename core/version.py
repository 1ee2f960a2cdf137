"""The version of stackeye, written once: in pyproject.toml, read from the installed metadata."""
from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("stackeye")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a tree that was never installed
    __version__ = "0+unknown"
