#!/usr/bin/env bash
# red_ops.sh BUILD_DIR: writes the reduction family's ONNX test folders
# (red_ops.py: reductions, arg ops, hardmax, cumsum, normalizations, with
# numpy's expected outputs) and runs them through the whole compiler and
# the LLVM backend with `nncc test-onnx`; every folder must PASS.
set -euo pipefail
BUILD=$1
PY=${NNCC_PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$BUILD/e2e/red_ops
rm -rf "$DIR"
mkdir -p "$DIR"
"$PY" "$HERE/red_ops.py" "$DIR"
n=$(ls "$DIR" | wc -l)
out=$("$BUILD/nncc" test-onnx "$DIR"/* 2>&1) || true
echo "$out" | grep -v '^PASS' || true
last=$(echo "$out" | grep -E "^[0-9]+ passed, " | tail -n 1)
echo "$last"
if [ "$last" != "$n passed, 0 failed, 0 unsupported, 0 errors" ]; then
  echo "FAIL: e2e red_ops: expected all $n folders to pass"
  exit 1
fi
