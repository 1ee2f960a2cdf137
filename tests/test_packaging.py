"""One import namespace: every folder is a stackeye.* package, nothing generic at the top level."""
from __future__ import annotations

import os
import subprocess
import sys

import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_package_folder_is_mapped_and_listed():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        tool = tomllib.load(f)["tool"]["setuptools"]
    mapping, listed = tool["package-dir"], set(tool["packages"])
    assert set(mapping) == listed
    folders = {os.path.normpath(v): k for k, v in mapping.items()}
    for top in {v.split("/")[0] for v in mapping.values()}:
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, top)):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            if "__init__.py" in filenames:
                rel = os.path.relpath(dirpath, ROOT)
                assert rel in folders, f"{rel} has an __init__.py but is not in [tool.setuptools] package-dir"


def test_installed_namespace_imports_from_another_folder(tmp_path):
    code = (
        "import importlib, stackeye.agent, stackeye.collector, stackeye.proto, stackeye.query, stackeye.instrumentation\n"
        "for generic in ('agent', 'collector', 'proto', 'query', 'instrumentation', 'cli'):\n"
        "    try:\n"
        "        importlib.import_module(generic)\n"
        "    except ImportError:\n"
        "        continue\n"
        "    raise SystemExit(f'generic top-level module {generic!r} is importable')\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_console_script_is_installed():
    out = subprocess.run(["stackeye", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("stackeye ")
