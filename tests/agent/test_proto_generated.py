"""The committed generated code matches agent.proto (run proto/generate.sh after editing it)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def test_generated_code_is_up_to_date(tmp_path):
    pytest.importorskip("grpc_tools")
    proto_dir = os.path.join(ROOT, "proto")
    copy = tmp_path / "proto"
    shutil.copytree(proto_dir, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("agent_pb2.py", "agent_pb2_grpc.py", "agent_pb2.pyi"):
        (copy / "agent" / "v1" / name).unlink()
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    subprocess.run(["bash", str(copy / "generate.sh")], check=True, env=env, capture_output=True)
    for name in ("agent_pb2.py", "agent_pb2_grpc.py", "agent_pb2.pyi"):
        fresh = (copy / "agent" / "v1" / name).read_text()
        committed = open(os.path.join(proto_dir, "agent", "v1", name)).read()
        assert fresh == committed, f"proto/agent/v1/{name} is stale: run proto/generate.sh"
