#!/usr/bin/env bash
# onnx_folders.sh BUILD_DIR NAME: runs tests/e2e/NAME.py to write ONNX test
# folders (model, inputs and expected outputs from numpy, PyTorch or
# torchvision) into BUILD_DIR/e2e/NAME, then runs them through the whole
# compiler and the LLVM backend with `nncc test-onnx`; every folder must
# PASS. Used by e2e/red_ops (reductions, arg ops, cumsum, normalizations)
# and e2e/misc_ops (DFT/STFT, GridSample, RoiAlign).
set -euo pipefail
BUILD=$1
NAME=$2
PY=${NNCC_PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$BUILD/e2e/$NAME
rm -rf "$DIR"
mkdir -p "$DIR"
"$PY" "$HERE/$NAME.py" "$DIR"
n=$(ls "$DIR" | wc -l)
out=$("$BUILD/nncc" test-onnx "$DIR"/* 2>&1) || true
echo "$out" | grep -v '^PASS' || true
last=$(echo "$out" | grep -E '^[0-9]+ passed, ' | tail -n 1)
echo "$last"
if [ "$last" != "$n passed, 0 failed, 0 unsupported, 0 errors" ]; then
  echo "FAIL: e2e $NAME: expected all $n folders to pass"
  exit 1
fi
