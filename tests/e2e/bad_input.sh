#!/usr/bin/env bash
# Error paths of nncc and nncc-run: bad_input.sh BUILD_DIR
#
# For each malformed or unsupported model from bad_models.py, nncc must exit
# with status 1 (not crash), name the file on stderr (and, for
# two_unsupported.onnx, both unsupported ops), and leave no output file.
# nncc-run must reject an input of the wrong shape with status 1 and name the
# input. nncc test-onnx must tell an int64 output that is off by one at 2^53
# from the right one, and nncc-run -o must give outputs whose names sanitize
# alike files of their own. Ends with one line: "PASS: ..." or "FAIL: ...".
# Environment: NNCC_PYTHON (default /usr/bin/python3).
set -euo pipefail

if [ $# -ne 1 ]; then echo "usage: $0 BUILD_DIR" >&2; exit 2; fi
BUILD=$1
PY=${NNCC_PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
NNCC=$BUILD/nncc
RUN=$BUILD/nncc-run
DIR=$BUILD/e2e/bad
ERR=$DIR/stderr.txt
failures=0

die() { echo "FAIL: e2e bad_input: $*"; exit 1; }
bad() { echo "  not ok: $*"; failures=$((failures + 1)); }
ok() { echo "  ok: $*"; }

for tool in "$NNCC" "$RUN"; do
  [ -x "$tool" ] || die "$tool not found or not executable (build it first)"
done
[ -x "$PY" ] || die "python interpreter $PY not found (set NNCC_PYTHON)"
mkdir -p "$DIR"
"$PY" "$HERE/bad_models.py" "$DIR" || die "bad_models.py failed"

# expect_status WANT DESCRIPTION CMD...: runs CMD with stderr in $ERR.
expect_status() {
  local want=$1 what=$2 st=0
  shift 2
  "$@" >/dev/null 2>"$ERR" || st=$?
  if [ "$st" -ne "$want" ]; then
    bad "$what: exit status $st, want $want; stderr:"
    sed 's/^/      /' "$ERR"
    return 1
  fi
  return 0
}

# stderr_has WHAT WORD: $ERR must mention WORD.
stderr_has() {
  if grep -qwF -- "$2" "$ERR"; then return 0; fi
  bad "$1: stderr does not mention '$2'; stderr:"
  sed 's/^/      /' "$ERR"
  return 1
}

echo "== nncc on bad models"
for name in two_unsupported garbage truncated missing; do
  model=$DIR/$name.onnx
  out=$DIR/$name.so
  rm -f "$out"
  [ "$name" = missing ] && rm -f "$model"
  what="nncc $name.onnx"
  if expect_status 1 "$what" "$NNCC" "$model" -o "$out"; then
    good=1
    stderr_has "$what" "$name.onnx" || good=0
    if [ "$name" = two_unsupported ]; then
      stderr_has "$what" RandomUniformLike || good=0
      stderr_has "$what" Unique || good=0
    fi
    [ $good = 1 ] && ok "$what: exit 1, $(head -c 200 "$ERR" | head -n 1)"
  fi
  if [ -e "$out" ]; then bad "$what: left an output file $out behind"; fi
done

echo "== nncc usage errors"
expect_status 2 "nncc with no arguments" "$NNCC" && ok "nncc with no arguments: exit 2"
expect_status 2 "nncc with an unknown option" "$NNCC" "$DIR/small.onnx" -o "$DIR/x.so" --no-such-option \
  && ok "nncc with an unknown option: exit 2"
rm -f "$DIR/x.so"
if [ -w /dev/full ]; then
  st=0
  "$NNCC" "$DIR/small.onnx" --emit=ir >/dev/full 2>"$ERR" || st=$?
  if [ "$st" -eq 1 ]; then ok "nncc --emit=ir >/dev/full: exit 1"
  else bad "nncc --emit=ir >/dev/full: exit status $st, want 1"; fi
fi

echo "== nncc-run with a wrong input"
SO=$DIR/small.so
rm -f "$SO"
if expect_status 0 "nncc small.onnx" "$NNCC" "$DIR/small.onnx" -o "$SO"; then
  "$PY" -c "
import numpy as np, sys
d = sys.argv[1]
np.save(d + '/right.npy', np.arange(6, dtype=np.float32).reshape(2, 3) - 2)
np.save(d + '/wrong_shape.npy', np.zeros((3, 2), np.float32))
np.save(d + '/wrong_size.npy', np.zeros((2, 4), np.float32))
" "$DIR"
  for case in wrong_shape wrong_size; do
    rm -rf "$DIR/run-$case"
    what="nncc-run with $case input"
    if expect_status 1 "$what" "$RUN" "$SO" -i "pixels_in=$DIR/$case.npy" -o "$DIR/run-$case"; then
      stderr_has "$what" pixels_in && ok "$what: exit 1, $(head -n 1 "$ERR")"
    fi
    if [ -e "$DIR/run-$case/out.npy" ]; then bad "$what: wrote $DIR/run-$case/out.npy anyway"; fi
  done
  # The same model with the right input must work, so the errors above are real.
  rm -rf "$DIR/run-right"
  if expect_status 0 "nncc-run with the right input" "$RUN" "$SO" -i "pixels_in=$DIR/right.npy" -o "$DIR/run-right"; then
    if "$PY" -c "
import numpy as np, sys
d = sys.argv[1]
x = np.load(d + '/right.npy')
y = np.load(d + '/run-right/out.npy')
sys.exit(0 if y.shape == x.shape and np.allclose(y, np.maximum(x, 0) + x) else 1)
" "$DIR"; then ok "nncc-run with the right input: correct output"
    else bad "nncc-run with the right input: wrong or missing $DIR/run-right/out.npy"; fi
  fi
fi

echo "== nncc-run keeps outputs whose names sanitize alike apart"
"$PY" -c "
import numpy as np, onnx, sys
from onnx import TensorProto, helper
d, outs = sys.argv[1], ['a__2', 'a?', 'a!']  # a? and a! become a_, then a__2
nodes = [helper.make_node(op, ['x'], [o]) for op, o in zip(['Relu', 'Neg', 'Abs'], outs)]
g = helper.make_graph(nodes, 'names', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [2])],
                      [helper.make_tensor_value_info(o, TensorProto.FLOAT, [2]) for o in outs])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)]), d + '/names.onnx')
np.save(d + '/names_x.npy', np.array([-1, 2], np.float32))
" "$DIR"
rm -rf "$DIR/run-names"
if expect_status 0 "nncc names.onnx" "$NNCC" "$DIR/names.onnx" -o "$DIR/names.so" &&
   expect_status 0 "nncc-run names.so" "$RUN" "$DIR/names.so" -i "$DIR/names_x.npy" -o "$DIR/run-names"; then
  if "$PY" -c "
import numpy as np, sys
o = sys.argv[1] + '/'
got = [np.load(o + f).tolist() for f in ('a__2.npy', 'a_.npy', 'a__2_2.npy')]
sys.exit(0 if got == [[0, 2], [1, -2], [1, 2]] else 1)
" "$DIR/run-names"; then ok "nncc-run -o: three outputs, three files"
  else bad "nncc-run -o: outputs a__2, a?, a! not in a__2.npy, a_.npy, a__2_2.npy"; fi
fi

echo "== nncc test-onnx compares integers exactly"
st=0
"$NNCC" test-onnx "$DIR/suite" >"$DIR/suite.txt" 2>"$ERR" || st=$?
if [ "$st" -eq 1 ] && grep -q '^PASS  *right$' "$DIR/suite.txt" && grep -q '^FAIL  *wrong:' "$DIR/suite.txt"; then
  ok "test-onnx: right passes, wrong (off by one at 2^53) fails, exit 1"
else
  bad "test-onnx on $DIR/suite: exit status $st, want 1 with right PASS and wrong FAIL; output:"
  sed 's/^/      /' "$DIR/suite.txt" "$ERR"
fi

if [ $failures -ne 0 ]; then echo "FAIL: e2e bad_input: $failures check(s) failed"; exit 1; fi
echo "PASS: e2e bad_input"
