"""Packaging: one import namespace (every folder is a stackeye.* package, nothing generic at the
top level), and every command works after the README's `pip install .` alone."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import tomllib
from support.services import free_port, require

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def _project() -> dict:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


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
    out = subprocess.run([os.path.join(BIN, "stackeye"), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("stackeye ")


def test_commands_the_tests_start_are_this_environments():
    """Tests start `stackeye`, `stackeye-instrument`, `gunicorn`... by name: they must be the ones of
    the interpreter that runs the tests (scripts/test puts its environment's bin/ first on PATH)."""
    for name in (*_project()["scripts"], "gunicorn", "opentelemetry-instrument"):
        found = shutil.which(name)
        require(found is not None and os.path.dirname(os.path.realpath(found)) == os.path.realpath(BIN),
                f"{name} on PATH is {found}, not the one in {BIN}: put that directory first on PATH "
                "(./scripts/test does)")


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, **{"timeout": 120, **kwargs})
    assert out.returncode == 0, f"{' '.join(cmd)} exited with {out.returncode}:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.mark.slow
def test_every_command_works_after_pip_install_dot(tmp_path):
    """The README's install, nothing else: a new environment, `pip install .` of this tree (not
    editable, no extras), then every console script and `stackeye` subcommand answers --help,
    cluster mode's modules import, and stackeye-instrument runs a program, naming the extra that
    adds the library instrumentors it lacks."""
    tree = tmp_path / "stackeye"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "stackeye-data", "out"))
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    bin_dir = venv / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    _run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "."],
         cwd=tree, env=env, timeout=1200)
    python = str(bin_dir / "python")

    scripts = _project()["scripts"]
    for name in scripts:
        assert (bin_dir / name).exists(), f"pip install . did not install the console script {name}"
        assert "usage:" in _run([str(bin_dir / name), "--help"], env=env, cwd=tmp_path).stdout
    commands = _run([python, "-c", "from stackeye.cli.main import COMMANDS; print(' '.join(COMMANDS))"],
                    env=env, cwd=tmp_path).stdout.split()
    assert {"up", "collector", "writer", "agent"} <= set(commands)
    for command in commands:
        out = _run([str(bin_dir / "stackeye"), command, "--help"], env=env, cwd=tmp_path)
        assert f"stackeye {command}" in out.stdout, out.stdout
    _run([python, "-c", "import stackeye.collector.queue.kafka, stackeye.storage.native_storage"], env=env, cwd=tmp_path)

    run_env = dict(env, STACKEYE_ENDPOINT=f"127.0.0.1:{free_port()}")  # nothing listens: exit must not wait
    out = _run([str(bin_dir / "stackeye-instrument"), "--service-name", "packaging", python, "-c",
                "import sqlite3; sqlite3.connect(':memory:').execute('SELECT 1'); print('the program ran')"],
               env=run_env, cwd=tmp_path)
    assert "the program ran" in out.stdout
    assert "sqlite3 (opentelemetry-instrumentation-sqlite3)" in out.stderr, out.stderr
    assert "pip install 'stackeye[instrumentation]'" in out.stderr, out.stderr
