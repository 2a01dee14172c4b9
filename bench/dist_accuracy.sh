#!/bin/sh
# dist_accuracy.sh BUILD [EPOCHS] [MODEL] — data-parallel training against
# one process (docs/distributed.md): fashion_mnist (the fused step, batch
# 64) and `mpirun -np 2 fashion_mnist_mpi` (two ranks, 32 each, the same
# global batches) train MODEL (lenet or mlp; default lenet) for EPOCHS
# (default 10) and the test accuracies are compared (acceptance: within
# 0.5 points). Then the throughput on 200 steps of 64 images, one thread
# per process: one process with the fused step, one and two ranks with
# the split step. Needs the Fashion-MNIST dataset and MPI; minutes to hours.
set -eu
B=$(cd "$1" && pwd)
EPOCHS=${2:-10}
MODEL=${3:-lenet}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
ROOT=
[ "$(id -u)" = 0 ] && ROOT=--allow-run-as-root
MPI="mpirun $ROOT --oversubscribe --bind-to none"
export NNCC_THREADS=1
"$B/fashion_mnist" --model "$MODEL" --epochs "$EPOCHS" --threads 1 --out "$T/one" --quiet >"$T/one.log"
$MPI -np 2 "$B/fashion_mnist_mpi" --model "$MODEL" --epochs "$EPOCHS" --threads 1 \
	--models "$B/examples/models" --out "$T/two" --quiet >"$T/two.log"
grep '^epoch' "$T/one.log" | sed 's/^/1 process: /'
grep '^epoch' "$T/two.log" | sed 's/^/2 ranks:   /'
a1=$(sed -n 's/^test_accuracy=//p' "$T/one.log")
a2=$(sed -n 's/^test_accuracy=//p' "$T/two.log")
echo "test accuracy after $EPOCHS epochs: 1 process $a1, 2 ranks $a2"
awk -v a="$a1" -v b="$a2" 'BEGIN { d = a - b; if (d < 0) d = -d;
	printf "difference %.4f: %s\n", d, d <= 0.005 ? "within 0.5 points" : "NOT within 0.5 points";
	exit d <= 0.005 ? 0 : 1 }'
"$B/fashion_mnist" --model "$MODEL" --epochs 1 --limit-train 12800 --limit-test 1000 --threads 1 \
	--out "$T/s0" --quiet | sed -n "s/^epoch 1: .*(\(.*\))/throughput, 1 process, fused step: \1/p"
for np in 1 2; do
	$MPI -np $np "$B/fashion_mnist_mpi" --model "$MODEL" --epochs 1 --limit-train 12800 \
		--limit-test 1000 --threads 1 --models "$B/examples/models" --out "$T/s$np" --quiet |
		sed -n "s/^epoch 1: .*(\(.*\))/throughput, $np process(es): \1/p"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
