"""The layers go one way: a package imports only from the layers below it (README, "Layers").

    cli                        the command line
    app                        the assembly of the processes (the order of the stages)
    decisions · events         policies and triggers over the views: never each other
    collector · query · agent  capabilities: never each other
    auth                       tenants, keys and tokens, the audit (over storage; ingest and the API use it)
    storage                    the storage protocol and its backends
    core · proto               shared foundations (http, config, retry, address, version) · the wire
    instrumentation            in-app: speaks only OTLP; of ours it reads the version alone

Every import counts, also one inside a function: a lazy import is still a dependency.
"""
from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RANK = {"core": 0, "proto": 0, "storage": 1, "auth": 1.5, "collector": 2, "query": 2, "agent": 2, "decisions": 3, "events": 3, "app": 4, "cli": 5}
# What instrumentation, which runs inside users' applications, may import of ours.
INSTRUMENTATION_MAY_IMPORT = {"stackeye.core.version"}


def _imports(path: str):
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def _sources(root: str):
    for top in [*RANK, "instrumentation"]:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for name in filenames:
                if name.endswith(".py"):
                    yield top, os.path.join(dirpath, name)


def violations(root: str = ROOT) -> list[str]:
    found = []
    for top, path in _sources(root):
        rel = os.path.relpath(path, root)
        for lineno, module in _imports(path):
            parts = module.split(".")
            if parts[0] != "stackeye" or len(parts) < 2 or parts[1] == top:
                continue
            target = parts[1]
            if top == "instrumentation":
                if module not in INSTRUMENTATION_MAY_IMPORT:
                    found.append(f"{rel}:{lineno}: instrumentation imports {module} (it may import only "
                                 f"{', '.join(sorted(INSTRUMENTATION_MAY_IMPORT))})")
                continue
            if target == "instrumentation":
                continue  # the agent and the CLI may load the in-app library (a higher layer using a leaf)
            if target not in RANK:
                found.append(f"{rel}:{lineno}: imports {module}, a package no layer names (add it to RANK)")
            elif RANK[target] >= RANK[top]:
                found.append(f"{rel}:{lineno}: {top} (layer {RANK[top]}) imports {module} (layer {RANK[target]}): "
                             "a layer imports only from the layers below it")
    return found


def test_no_layer_imports_one_above_it_or_beside_it():
    assert violations() == []


def test_every_package_folder_has_a_layer():
    import tomllib

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        packages = tomllib.load(f)["tool"]["setuptools"]["packages"]
    tops = {p.split(".")[1] for p in packages}
    assert tops == set(RANK) | {"instrumentation"}


@pytest.mark.parametrize("source, target", [("core", "collector"), ("query", "collector"), ("storage", "query")])
def test_the_check_sees_an_upward_import(tmp_path, source, target):
    (tmp_path / source).mkdir()
    (tmp_path / source / "bad.py").write_text(f"def f():\n    from stackeye.{target}.x import y\n")
    assert any(f"imports stackeye.{target}.x" in v for v in violations(str(tmp_path)))



def _resolves(module: str, name: str | None = None) -> bool:
    """``module`` is a file or package of ours; ``name``, when ``module`` is a package, is a
    submodule or is at least mentioned in its ``__init__.py``."""
    base = os.path.join(ROOT, *module.split(".")[1:])
    if os.path.isfile(base + ".py"):
        return True
    init = os.path.join(base, "__init__.py")
    if not os.path.isfile(init):
        return False
    return name is None or name == "*" or _resolves(f"{module}.{name}") or name in open(init, encoding="utf-8").read()


def test_every_import_of_ours_names_a_module_that_exists():
    """A moved module leaves no stale import behind, also in lazy imports the other tests may not reach."""
    stale = []
    for folder in [*RANK, "instrumentation", "tests", "bench"]:
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, folder)):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for path in (os.path.join(dirpath, n) for n in filenames if n.endswith(".py")):
                for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
                    if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("stackeye."):
                        pairs = [(node.module, a.name) for a in node.names]
                    elif isinstance(node, ast.Import):
                        pairs = [(a.name, None) for a in node.names if a.name.startswith("stackeye.")]
                    else:
                        continue
                    stale += [f"{os.path.relpath(path, ROOT)}:{node.lineno}: {m}{' has no ' + n if n else ' does not exist'}"
                              for m, n in pairs if not _resolves(m, n)]
    assert stale == []
