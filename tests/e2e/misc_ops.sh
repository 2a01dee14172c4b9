#!/usr/bin/env bash
# misc_ops.sh BUILD_DIR: writes the misc family's ONNX test folders
# (misc_ops.py: DFT/STFT, GridSample, RoiAlign, with numpy's, PyTorch's and
# torchvision's expected outputs) and runs them through the whole compiler and
# the LLVM backend with `nncc test-onnx`; every folder must PASS.
set -euo pipefail
BUILD=$1
PY=${NNCC_PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$BUILD/e2e/misc_ops
rm -rf "$DIR"
mkdir -p "$DIR"
"$PY" "$HERE/misc_ops.py" "$DIR"
n=$(ls "$DIR" | wc -l)
out=$("$BUILD/nncc" test-onnx "$DIR"/* 2>&1) || true
echo "$out" | grep -v '^PASS' || true
last=$(echo "$out" | grep -E "^[0-9]+ passed, " | tail -n 1)
echo "$last"
if [ "$last" != "$n passed, 0 failed, 0 unsupported, 0 errors" ]; then
  echo "FAIL: e2e misc_ops: expected all $n folders to pass"
  exit 1
fi
