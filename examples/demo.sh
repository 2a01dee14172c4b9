#!/usr/bin/env bash
# Fashion-MNIST demo: demo.sh BUILD_DIR   (run by `make demo` after the build)
#
# Compiles examples/fashion_cnn.onnx with nncc for a batch of all 10,000 test
# images, runs it with nncc-run, and compares the accuracy with PyTorch's for
# the same weights (examples/fashion_cnn.pt). Fails when they differ by more
# than 10 images. Then nncc trains an MLP itself (fashion_mnist) and prints
# the accuracy it reached. Environment: NNCC_PYTHON (default /usr/bin/python3).
set -euo pipefail

if [ $# -ne 1 ]; then echo "usage: $0 BUILD_DIR" >&2; exit 2; fi
BUILD=$1
PY=${NNCC_PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
DEMO=$BUILD/demo
SO=$DEMO/fashion_cnn.so
OUT=$DEMO/out

die() { echo "demo: $*" >&2; exit 1; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
for tool in nncc nncc-run; do
  [ -x "$BUILD/$tool" ] || die "$BUILD/$tool not found (run 'make build' first)"
done
[ -x "$PY" ] || die "python interpreter $PY not found (set NNCC_PYTHON)"
for f in fashion_cnn.onnx fashion_cnn.pt; do
  [ -f "$HERE/$f" ] || die "$HERE/$f missing (run $PY examples/train_fashion.py)"
done

mkdir -p "$DEMO"
if [ ! -f "$DEMO/test_images.npy" ] || [ ! -f "$DEMO/test_labels.npy" ]; then
  "$PY" "$HERE/demo_eval.py" prepare "$DEMO"
fi

echo "+ $BUILD/nncc $HERE/fashion_cnn.onnx --shape input=10000,1,28,28 -o $SO"
rm -f "$SO"
t0=$(date +%s.%N)
"$BUILD/nncc" "$HERE/fashion_cnn.onnx" --shape input=10000,1,28,28 -o "$SO" || die "nncc failed (status $?)"
t1=$(date +%s.%N)
echo "demo: compiled in $(elapsed "$t0" "$t1") s"

echo "+ $BUILD/nncc-run $SO -i input=$DEMO/test_images.npy -o $OUT"
rm -rf "$OUT"
t0=$(date +%s.%N)
"$BUILD/nncc-run" "$SO" -i "input=$DEMO/test_images.npy" -o "$OUT" || die "nncc-run failed (status $?)"
t1=$(date +%s.%N)
[ -f "$OUT/logits.npy" ] || die "nncc-run wrote no $OUT/logits.npy"

# Latency of the model call alone; informative only, the demo does not depend on it.
BENCH=()
if "$BUILD/nncc-run" "$SO" -i "input=$DEMO/test_images.npy" --bench 3 --json >"$DEMO/bench.json" 2>"$DEMO/bench.err"; then
  BENCH=(--bench-json "$DEMO/bench.json")
else
  echo "demo: note: nncc-run --bench 3 --json failed: $(head -n 1 "$DEMO/bench.err")"
fi

"$PY" "$HERE/demo_eval.py" score "$DEMO" "$OUT/logits.npy" \
  --seconds "$(elapsed "$t0" "$t1")" ${BENCH[@]+"${BENCH[@]}"}

# The training half: nncc trains a model itself (examples/fashion_mnist.c,
# docs/examples.md): the ReLU MLP, 10 epochs of batch 64 (9,370 Adam steps,
# about half a minute on 2 cores), then its test accuracy.
TRAIN_OUT=$DEMO/train
[ -x "$BUILD/fashion_mnist" ] || die "$BUILD/fashion_mnist not found (run 'make build' first)"
echo "+ $BUILD/fashion_mnist --model mlp --act relu --epochs 10 --out $TRAIN_OUT"
rm -rf "$TRAIN_OUT"
t0=$(date +%s.%N)
"$BUILD/fashion_mnist" --model mlp --act relu --epochs 10 --out "$TRAIN_OUT" | tee "$DEMO/train.txt" \
  || die "fashion_mnist failed"
t1=$(date +%s.%N)
acc=$(sed -n 's/^test_accuracy=//p' "$DEMO/train.txt")
[ -n "$acc" ] || die "fashion_mnist printed no test_accuracy"
echo "demo: nncc trained the MLP to test accuracy $acc in $(elapsed "$t0" "$t1") s (log: $TRAIN_OUT/log.jsonl)"
