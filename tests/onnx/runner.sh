#!/usr/bin/env bash
# The contract of `nncc test-onnx`: runner.sh BUILD_DIR NODE_TESTS_DIR
#
# On a scratch folder holding three generated tests (test_relu, and
# test_unsqueeze_axis_0 whose axes are a graph input) plus a test whose
# model.onnx is garbage and one whose expected output is wrong:
#   - one line per test, in name order, whatever -j;
#   - test_unsqueeze_axis_0 passes only with its axes bound and says so
#     ("PASS ... [--const axes]"); with --no-const it is UNSUPPORTED;
#   - the garbage model is an ERROR and the wrong output a FAIL, neither a
#     crash of the runner, and the exit status is then 1;
#   - the closing lines: "N passed, N failed, N unsupported, N errors" alone
#     on its line, then "const-bound: K of the N passed needed --const (...)".
# Ends with "PASS: ..." or "FAIL: ...".
set -uo pipefail

if [ $# -ne 2 ]; then echo "usage: $0 BUILD_DIR NODE_TESTS_DIR" >&2; exit 2; fi
NNCC=$1/nncc
SRC=$2
T=$(mktemp -d /tmp/nncc-runner-XXXXXX)
trap 'rm -rf "$T"' EXIT
failures=0
bad() { echo "  not ok: $*"; failures=$((failures + 1)); }
ok() { echo "  ok: $*"; }
has() { if grep -qxF -- "$2" "$1"; then ok "line '$2'"; else bad "no line '$2' in: $(cat "$1")"; fi; }

for t in test_relu test_unsqueeze_axis_0; do
  [ -f "$SRC/$t/model.onnx" ] || { echo "FAIL: runner: $SRC/$t missing"; exit 1; }
  cp -r "$SRC/$t" "$T/"
done
mkdir -p "$T/test_a_garbage/test_data_set_0"
printf 'not a protobuf \377\377\377' > "$T/test_a_garbage/model.onnx"
cp -r "$SRC/test_relu" "$T/test_b_wrong"
# the expected output of test_relu with one raw byte flipped: still a valid
# TensorProto, wrong values
python3=${NNCC_PYTHON:-/usr/bin/python3}
"$python3" - "$T/test_b_wrong/test_data_set_0/output_0.pb" <<'PYEOF' || bad "could not edit output_0.pb"
import sys, onnx
from onnx import numpy_helper
p = sys.argv[1]
a = numpy_helper.to_array(onnx.load_tensor(p)).copy()
a.flat[0] += 1.0
open(p, "wb").write(numpy_helper.from_array(a, "y").SerializeToString())
PYEOF

"$NNCC" test-onnx -j2 "$T" > "$T/out" 2>"$T/err"; rc=$?
[ "$rc" -eq 1 ] && ok "exit status 1 with a FAIL and an ERROR" || bad "exit status $rc, expected 1"
names=$(awk '{print $2}' "$T/out" | head -4 | tr -d ':' | tr '\n' ' ')
[ "$names" = "test_a_garbage test_b_wrong test_relu test_unsqueeze_axis_0 " ] && ok "lines in name order" ||
  bad "order: $names"
grep -q '^ERROR       test_a_garbage: .*not a valid ONNX model' "$T/out" && ok "garbage model: ERROR" ||
  bad "garbage model: $(grep test_a_garbage "$T/out")"
grep -q "^FAIL        test_b_wrong: output 'y': element 0 is" "$T/out" && ok "wrong output: FAIL" ||
  bad "wrong output: $(grep test_b_wrong "$T/out")"
has "$T/out" "PASS        test_relu"
has "$T/out" "PASS        test_unsqueeze_axis_0 [--const axes]"
has "$T/out" "2 passed, 1 failed, 0 unsupported, 1 errors"
has "$T/out" "const-bound: 1 of the 2 passed needed --const (1 compiled exactly as given)"

rm -rf "$T/test_a_garbage" "$T/test_b_wrong"
"$NNCC" test-onnx --no-const "$T" > "$T/out2" 2>&1; rc=$?
[ "$rc" -eq 0 ] && ok "--no-const: exit status 0" || bad "--no-const: exit status $rc"
grep -q '^UNSUPPORTED test_unsqueeze_axis_0: .*must be a constant' "$T/out2" && ok "--no-const: UNSUPPORTED" ||
  bad "--no-const: $(grep unsqueeze "$T/out2")"
has "$T/out2" "1 passed, 0 failed, 1 unsupported, 0 errors"
has "$T/out2" "const-bound: 0 of the 1 passed needed --const (1 compiled exactly as given)"
"$NNCC" test-onnx -j0 "$T" > /dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] && ok "-j0: usage error" || bad "-j0: exit status $rc, expected 2"

if [ "$failures" -ne 0 ]; then echo "FAIL: runner: $failures checks failed"; exit 1; fi
echo "PASS: runner: test-onnx keeps its contract"
