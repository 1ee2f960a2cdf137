#!/usr/bin/env bash
# Regenerate the Python code of stackeye's protos (commit the output).
#   pip install -e '.[test]' && proto/generate.sh      # the test extra has grpcio-tools
#   PYTHON=/path/to/venv/bin/python proto/generate.sh  # another interpreter (default: python3)
# tests/agent/test_proto_generated.py checks that the committed code matches the .proto.
# The source lives in proto/stackeye/agent/v1/agent.proto; the code is generated so that it
# imports as stackeye.proto.agent.v1 (package-dir "stackeye.proto.agent.v1" = "proto/agent/v1").
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/stackeye/proto/agent/v1"
cp stackeye/agent/v1/agent.proto "$tmp/stackeye/proto/agent/v1/agent.proto"
"${PYTHON:-python3}" -m grpc_tools.protoc -I"$tmp" --python_out="$tmp" --grpc_python_out="$tmp" --pyi_out="$tmp" \
  "$tmp/stackeye/proto/agent/v1/agent.proto"
mkdir -p agent/v1
cp "$tmp"/stackeye/proto/agent/v1/agent_pb2*.py* agent/v1/
