#!/usr/bin/env bash
# The command line of `nncc --emit=onnx` (docs/export.md): export_cli.sh BUILD_DIR
#
# A text-IR graph with symbolic dims and literal weights is exported, read
# back by nncc with --shape, compiled and run: its output must equal the
# original's bit for bit (same IR). A graph with ops that have no ONNX form
# must fail with status 1, name each such node, and leave no output file
# (nor touch an existing one); --emit=onnx without -o or with --train is a
# usage error (status 2). Weights saved by two training steps and given
# with --weights are what the export holds. Ends with "PASS: ..." or
# "FAIL: ...".
set -uo pipefail

if [ $# -ne 1 ]; then echo "usage: $0 BUILD_DIR" >&2; exit 2; fi
BUILD=$1
NNCC=$BUILD/nncc
RUN=$BUILD/nncc-run
PY=${NNCC_PYTHON:-/usr/bin/python3}
DIR=$BUILD/export-cli
rm -rf "$DIR" && mkdir -p "$DIR"
failures=0
bad() { echo "  not ok: $*"; failures=$((failures + 1)); }
ok() { echo "  ok: $*"; }

cat > "$DIR/good.ir" <<'IR'
graph good {
  input %x: f32[N, 4]
  param %w: f32[4, 3] = [0.5, -1.0, 0.25, 2.0, 0.125, -0.75, 1.5, 0.0, -2.0, 0.375, 1.0, -0.5]
  param %b: f32[3] = [0.1, -0.2, 0.3]
  %h = matmul(%x, %w)
  %y = add(%h, %b)
  %r = relu(%y)
  %s = softmax(%r) {axis = 1}
  output %s
}
IR
cat > "$DIR/bad.ir" <<'IR'
graph bad {
  input %a: i32[4]
  input %b: i32[4]
  %c = bitwise_and(%a, %b) @"band"
  %d = cumprod(%c) {axis = 0} @"cprod"
  output %d
}
IR

if "$NNCC" "$DIR/good.ir" --emit=onnx -o "$DIR/good.onnx" 2>"$DIR/err.txt"; then
  ok "good.ir exported"
else
  bad "good.ir: $(cat "$DIR/err.txt")"
fi
"$PY" -c "import onnx, sys; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True)
d = m.graph.input[0].type.tensor_type.shape.dim[0]
assert d.dim_param == 'N', d
assert sorted(i.name for i in m.graph.initializer) == ['b', 'w']" "$DIR/good.onnx" \
  && ok "onnx.checker accepts it; N is a dim_param; w, b are initializers" || bad "good.onnx check"
"$PY" -c "import numpy as np; np.save('$DIR/x.npy', (np.arange(12, dtype=np.float32).reshape(3, 4) - 5) / 3)"
for m in good.ir good.onnx; do
  "$NNCC" "$DIR/$m" --shape x=3,4 -o "$DIR/$m.so" && "$RUN" "$DIR/$m.so" -i x="$DIR/x.npy" -o "$DIR/out_$m" >/dev/null \
    || bad "$m did not compile or run"
done
cmp -s "$DIR/out_good.ir/s.npy" "$DIR/out_good.onnx/s.npy" && ok "outputs equal bit for bit" \
  || bad "outputs of good.ir and good.onnx differ"

# Trained weights back as ONNX: two SGD steps, then --weights with --emit=onnx.
"$PY" -c "import numpy as np; np.save('$DIR/y.npy', np.full((3, 3), 0.25, np.float32))"
if "$NNCC" "$DIR/good.ir" --shape x=3,4 --train --loss=mse --optimizer=sgd:lr=0.5 -o "$DIR/step.so" \
   && "$RUN" "$DIR/step.so" --train 2 -i x="$DIR/x.npy" -i label="$DIR/y.npy" \
        --save-weights "$DIR/w.safetensors" >/dev/null \
   && "$NNCC" "$DIR/good.ir" --weights="$DIR/w.safetensors" --emit=onnx -o "$DIR/trained.onnx" \
   && "$NNCC" "$DIR/good.ir" --weights="$DIR/w.safetensors" --shape x=3,4 -o "$DIR/w.so" \
   && "$NNCC" "$DIR/trained.onnx" --shape x=3,4 -o "$DIR/trained.so" \
   && "$RUN" "$DIR/w.so" -i x="$DIR/x.npy" -o "$DIR/out_w" >/dev/null \
   && "$RUN" "$DIR/trained.so" -i x="$DIR/x.npy" -o "$DIR/out_trained" >/dev/null; then
  cmp -s "$DIR/out_w/s.npy" "$DIR/out_trained/s.npy" && ! cmp -s "$DIR/out_w/s.npy" "$DIR/out_good.ir/s.npy" \
    && ok "trained weights exported: outputs equal the --weights model's, not the untrained one's" \
    || bad "trained export's outputs"
else
  bad "training, --weights or the trained export failed"
fi

st=0; "$NNCC" "$DIR/bad.ir" --emit=onnx -o "$DIR/bad.onnx" 2>"$DIR/err.txt" || st=$?
[ "$st" -eq 1 ] && ok "bad.ir: status 1" || bad "bad.ir: status $st, want 1"
grep -q "node 'band' (bitwise_and)" "$DIR/err.txt" && grep -q "node 'cprod' (cumprod)" "$DIR/err.txt" \
  && ok "both nodes named" || bad "message: $(cat "$DIR/err.txt")"
[ ! -e "$DIR/bad.onnx" ] && ok "no output file" || bad "bad.onnx was written"
echo keep > "$DIR/old.onnx"
"$NNCC" "$DIR/bad.ir" --emit=onnx -o "$DIR/old.onnx" 2>/dev/null
[ "$(cat "$DIR/old.onnx")" = keep ] && ok "existing file untouched" || bad "old.onnx was overwritten"
[ -z "$(ls "$DIR" | grep '\.tmp\|nncc.*XXXX' || true)" ] || bad "temporary files left: $(ls "$DIR")"

st=0; "$NNCC" "$DIR/good.ir" --emit=onnx 2>/dev/null || st=$?
[ "$st" -eq 2 ] && ok "no -o: status 2" || bad "no -o: status $st, want 2"
st=0; "$NNCC" "$DIR/good.ir" --emit=onnx -o "$DIR/t.onnx" --train --loss=mse 2>/dev/null || st=$?
[ "$st" -eq 2 ] && ok "--train: status 2" || bad "--train: status $st, want 2"

if [ "$failures" -eq 0 ]; then echo "PASS: export_cli"; else echo "FAIL: export_cli ($failures)"; exit 1; fi
