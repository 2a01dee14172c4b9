#!/bin/sh
# example_test.sh BUILD MPIEXEC — fashion_mnist_mpi under `mpirun -np 2`
# (the MLP, 2 epochs of 50 global batches): it must finish, report a test
# accuracy well above chance, write rank 0's checkpoint, and a --resume
# from it must score the same. Skipped (77) without the Fashion-MNIST
# dataset ($FASHION_MNIST_DIR, default Debian's dataset-fashion-mnist).
set -eu
B=$1
MPIEXEC=$2
DATA=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
if [ ! -e "$DATA/train-images-idx3-ubyte.gz" ]; then
	echo "dist/example skipped: no Fashion-MNIST in $DATA (package dataset-fashion-mnist)"
	exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
ROOT=
[ "$(id -u)" = 0 ] && ROOT=--allow-run-as-root
run() {
	NNCC_THREADS=1 "$MPIEXEC" $ROOT --oversubscribe --bind-to none -np 2 "$B/fashion_mnist_mpi" \
		--model mlp --data "$DATA" --models "$B/examples/models" --limit-train 3200 \
		--limit-test 1000 --out "$T" --quiet "$@" </dev/null
}
run --epochs 2 >"$T/a.log"
cat "$T/a.log"
acc=$(sed -n 's/^test_accuracy=//p' "$T/a.log")
[ -s "$T/checkpoint.safetensors" ] || { echo "FAIL: no checkpoint"; exit 1; }
awk -v a="$acc" 'BEGIN { exit !(a > 0.5) }' || { echo "FAIL: accuracy '$acc'"; exit 1; }
run --epochs 2 --resume >"$T/b.log"
acc2=$(sed -n 's/^test_accuracy=//p' "$T/b.log")
[ "$acc" = "$acc2" ] || { echo "FAIL: the resumed checkpoint scores $acc2, not $acc"; exit 1; }
echo "example_test: OK (test accuracy $acc)"
