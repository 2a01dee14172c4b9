#!/usr/bin/env bash
# `nncc --const NAME=FILE` end to end: const_cli.sh BUILD_DIR NODE_TESTS_DIR
#
# On the generated node test test_unsqueeze_axis_1 (Unsqueeze with its axes
# fed as a graph input): as given nncc refuses it (status 1, "must be a
# constant"); with --const axes=input_1.pb (TensorProto) or an .npy of the
# same value it compiles a model whose only input is x, and nncc-run's output
# equals output_0.pb. Bad bindings exit 1 naming the problem (unknown input,
# wrong dtype, unreadable file) and leave no output file; a malformed option
# is a usage error (2). Ends with "PASS: ..." or "FAIL: ...".
# Environment: NNCC_PYTHON (default /usr/bin/python3).
set -uo pipefail

if [ $# -ne 2 ]; then echo "usage: $0 BUILD_DIR NODE_TESTS_DIR" >&2; exit 2; fi
BUILD=$1
PY=${NNCC_PYTHON:-/usr/bin/python3}
T=$2/test_unsqueeze_axis_1
D=$T/test_data_set_0
OUT=$(mktemp -d /tmp/nncc-const-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
failures=0
bad() { echo "  not ok: $*"; failures=$((failures + 1)); }
ok() { echo "  ok: $*"; }

[ -f "$T/model.onnx" ] || { echo "FAIL: const_cli: $T/model.onnx missing"; exit 1; }

# expect STATUS NEEDLE ARGS...: nncc exits STATUS and stderr holds NEEDLE
expect() {
  local want=$1 needle=$2; shift 2
  "$BUILD/nncc" "$@" 2>"$OUT/err" >/dev/null
  local rc=$?
  if [ "$rc" -ne "$want" ]; then bad "nncc $* exited $rc, expected $want: $(head -c 300 "$OUT/err")"
  elif ! grep -qF -- "$needle" "$OUT/err"; then bad "nncc $*: no '$needle' in: $(head -c 300 "$OUT/err")"
  else ok "nncc ... ${*: -3}: status $want, '$needle'"; fi
}

expect 1 "must be a constant" "$T/model.onnx" -o "$OUT/a.so"
[ ! -e "$OUT/a.so" ] || bad "a refused compile left $OUT/a.so"

"$PY" - "$D" "$OUT" <<'PYEOF' || bad "could not write the .npy files"
import sys, numpy as np, onnx
from onnx import numpy_helper
d, out = sys.argv[1], sys.argv[2]
axes = numpy_helper.to_array(onnx.load_tensor(d + "/input_1.pb"))
np.save(out + "/axes.npy", axes)
np.save(out + "/axes32.npy", axes.astype(np.int32))
PYEOF

for f in "$D/input_1.pb" "$OUT/axes.npy"; do
  rm -f "$OUT/m.so"
  if ! "$BUILD/nncc" "$T/model.onnx" --const "axes=$f" -o "$OUT/m.so" 2>"$OUT/err"; then
    bad "--const axes=$f failed: $(head -c 300 "$OUT/err")"; continue
  fi
  rm -rf "$OUT/run"
  if ! "$BUILD/nncc-run" "$OUT/m.so" -i "x=$D/input_0.pb" -o "$OUT/run" >/dev/null 2>"$OUT/err"; then
    bad "nncc-run of the --const model failed: $(head -c 300 "$OUT/err")"; continue
  fi
  if "$PY" - "$OUT/run" "$D/output_0.pb" <<'PYEOF'
import sys, glob, numpy as np, onnx
from onnx import numpy_helper
got = np.load(glob.glob(sys.argv[1] + "/*.npy")[0])
want = numpy_helper.to_array(onnx.load_tensor(sys.argv[2]))
sys.exit(0 if got.shape == want.shape and np.array_equal(got, want) else 1)
PYEOF
  then ok "--const axes=$(basename "$f"): output equals output_0.pb"
  else bad "--const axes=$(basename "$f"): output differs from output_0.pb"; fi
done

expect 1 "the model has no graph input of that name" "$T/model.onnx" --const "axis=$OUT/axes.npy" -o "$OUT/b.so"
expect 1 "the file holds i32[1], but the input is declared i64[1]" "$T/model.onnx" --const "axes=$OUT/axes32.npy" -o "$OUT/b.so"
expect 1 "--const axes=$OUT/none.npy" "$T/model.onnx" --const "axes=$OUT/none.npy" -o "$OUT/b.so"
expect 1 "the input is bound twice" "$T/model.onnx" --const "axes=$OUT/axes.npy" --const "axes=$OUT/axes.npy" -o "$OUT/b.so"
expect 2 "bad --const" "$T/model.onnx" --const axes -o "$OUT/b.so"
[ ! -e "$OUT/b.so" ] || bad "a failed compile left $OUT/b.so"

if [ "$failures" -ne 0 ]; then echo "FAIL: const_cli: $failures checks failed"; exit 1; fi
echo "PASS: const_cli: --const compiles, runs right and rejects bad bindings"
