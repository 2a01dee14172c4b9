#!/bin/sh
# dist_test.sh BUILD [MPIEXEC] — two ranks on this machine train LeNet
# (SGD with momentum, batch 16 per rank) against one process on the
# concatenated batch of 32: tests/dist/dist_check.c says what is checked.
# OpenMPI refuses root without --allow-run-as-root, and two ranks on a
# smaller machine need --oversubscribe; --bind-to none leaves the ranks'
# threads free (each rank runs one: NNCC_THREADS=1).
set -eu
B=$1
MPIEXEC=${2:-mpirun}
M=$B/examples/models
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
OPT="--train --loss=cross_entropy --optimizer=sgd:lr=0.05,momentum=0.9"
"$B/nncc" "$M/lenet_eval.onnx" $OPT --split-step --shape x=16,1,28,28 -o "$T/split.so"
"$B/nncc" "$M/lenet_eval.onnx" $OPT --shape x=32,1,28,28 -o "$T/full.so"
ROOT=
[ "$(id -u)" = 0 ] && ROOT=--allow-run-as-root
NNCC_THREADS=1 "$MPIEXEC" $ROOT --oversubscribe --bind-to none -np 2 \
	"$B/dist_check" "$T/split.so" "$T/full.so" 10 6
