#!/usr/bin/env bash
# End-to-end test of one PyTorch model: run_e2e.sh BUILD_DIR MODEL [OPT]
#
# Exports MODEL (see models.py) into BUILD_DIR/e2e unless it is already there
# and up to date, compiles it with BUILD_DIR/nncc (at -OPT when given: -O2, O2
# or 2), runs it with BUILD_DIR/nncc-run and compares the output against
# PyTorch's with compare.py. Ends with one line: "PASS: ..." or "FAIL: ...".
# Environment: NNCC_PYTHON (default /usr/bin/python3), E2E_ATOL, E2E_RTOL.
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR MODEL [OPT]" >&2; exit 2; }
if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
BUILD=$1
MODEL=$2
OPT=${3:-}
PY=${NNCC_PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)

case $OPT in
  "") OPTFLAG= ; TAG=$MODEL ;;
  -O[0-3]) OPTFLAG=$OPT ; TAG=$MODEL$OPT ;;
  O[0-3]) OPTFLAG=-$OPT ; TAG=$MODEL-$OPT ;;
  [0-3]) OPTFLAG=-O$OPT ; TAG=$MODEL-O$OPT ;;
  *) echo "$0: bad optimization level '$OPT' (want -O0..-O3)" >&2; usage ;;
esac

fail() { echo "FAIL: e2e $TAG: $*"; exit 1; }

for tool in nncc nncc-run; do
  [ -x "$BUILD/$tool" ] || fail "$BUILD/$tool not found or not executable (build it first)"
done
[ -x "$PY" ] || fail "python interpreter $PY not found (set NNCC_PYTHON)"

DIR=$BUILD/e2e
ONNX=$DIR/$MODEL.onnx
mkdir -p "$DIR"
if [ ! -f "$ONNX" ] || [ ! -f "$DIR/$MODEL.input.npy" ] || [ ! -f "$DIR/$MODEL.ref.npy" ] \
   || [ "$HERE/models.py" -nt "$ONNX" ]; then
  "$PY" "$HERE/make_models.py" "$DIR" --models "$MODEL" || fail "could not export model '$MODEL'"
fi

SO=$DIR/$TAG.so
OUT=$DIR/out-$TAG
rm -rf "$SO" "$OUT"
mkdir -p "$OUT"

echo "+ $BUILD/nncc $ONNX -o $SO $OPTFLAG"
# shellcheck disable=SC2086 # OPTFLAG is empty or one word
"$BUILD/nncc" "$ONNX" -o "$SO" $OPTFLAG || fail "nncc exited with status $?"
[ -f "$SO" ] || fail "nncc exited 0 but wrote no $SO"

echo "+ $BUILD/nncc-run $SO -i input=$DIR/$MODEL.input.npy -o $OUT"
"$BUILD/nncc-run" "$SO" -i "input=$DIR/$MODEL.input.npy" -o "$OUT" || fail "nncc-run exited with status $?"
[ -f "$OUT/output.npy" ] || fail "nncc-run wrote no $OUT/output.npy"

"$PY" "$HERE/compare.py" "$OUT/output.npy" "$DIR/$MODEL.ref.npy" \
  --atol "${E2E_ATOL:-1e-4}" --rtol "${E2E_RTOL:-1e-4}" || fail "output differs from PyTorch"
echo "PASS: e2e $TAG"
