"""Every benchmark script runs as its README line says (``python bench/X.py``): it imports and answers
``--help``. Scripts run with bench/ first on sys.path, so a file there named like a stdlib module
(``http.py``) would break every other script's imports; this catches that too."""
import os
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench")
LIBRARIES = {"common.py", "http_profiled.py"}  # imported or launched by the others, no CLI of their own
SCRIPTS = sorted(f for f in os.listdir(BENCH) if f.endswith(".py") and f not in LIBRARIES)


def test_no_bench_file_shadows_the_stdlib():
    shadowing = [f for f in os.listdir(BENCH) if f.endswith(".py") and f[:-3] in sys.stdlib_module_names]
    assert not shadowing, f"bench/{shadowing[0]} hides the stdlib module of that name from every bench script"


@pytest.mark.parametrize("script", SCRIPTS)
def test_bench_script_answers_help(script):
    done = subprocess.run([sys.executable, os.path.join(BENCH, script), "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
