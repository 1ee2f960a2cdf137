#!/usr/bin/env bash
# Regenerate the Python code of stackeye's protos (commit the output).
#   pip install -e '.[test]' && proto/generate.sh      # the test extra has grpcio-tools
#   PYTHON=/path/to/venv/bin/python proto/generate.sh  # another interpreter (default: python3)
# tests/agent/test_proto_generated.py checks that the committed code matches each .proto.
# Each source lives in proto/stackeye/<dir>/<name>.proto; its code is generated so that it imports
# as stackeye.proto.<dir with dots> (package-dir "stackeye.proto.agent.v1" = "proto/agent/v1"):
#   proto/stackeye/agent/v1/agent.proto         -> proto/agent/v1/agent_pb2*.py*   (stackeye.agent.v1)
#   proto/stackeye/keda/externalscaler.proto    -> proto/keda/externalscaler_pb2*.py* (KEDA's externalscaler)
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for source in stackeye/agent/v1/agent.proto stackeye/keda/externalscaler.proto; do
  dir=$(dirname "${source#stackeye/}"); name=$(basename "$source" .proto)
  mkdir -p "$tmp/stackeye/proto/$dir"
  cp "$source" "$tmp/stackeye/proto/$dir/$name.proto"
  "${PYTHON:-python3}" -m grpc_tools.protoc -I"$tmp" --python_out="$tmp" --grpc_python_out="$tmp" --pyi_out="$tmp" \
    "$tmp/stackeye/proto/$dir/$name.proto"
  mkdir -p "$dir"
  cp "$tmp/stackeye/proto/$dir/${name}"_pb2*.py* "$dir/"
done
