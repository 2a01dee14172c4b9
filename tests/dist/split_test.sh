#!/bin/sh
# split_test.sh BUILD — the step's halves (nncc --train --split-step,
# docs/distributed.md) against the fused step, bit for bit
# (tests/dist/split_check.c): LeNet with SGD+momentum; LeNet with dropout,
# augmentation and Adam; an MLP with AdamW at -O3 and one with dampened,
# weight-decayed SGD at -O0; a GRU; the small ResNet of the .nn examples
# (batch norm's running statistics are updated by the gradients half);
# and the usage errors.
set -eu
B=$1
SRC=$(cd "$(dirname "$0")/../.." && pwd)
M=$B/examples/models
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
NNCC=$B/nncc
CHECK=$B/split_check

PLAIN= # a step without halves, for the UNSUPPORTED check
run() { # NAME CLASSES MODEL FLAGS...
	name=$1 classes=$2 model=$3
	shift 3
	"$NNCC" "$model" --train --split-step "$@" -o "$T/$name.so"
	echo "== $name"
	"$CHECK" "$T/$name.so" "$classes" 3 $PLAIN
	PLAIN=
}

PLAIN=$M/lenet_train.so
run lenet_sgd 10 "$M/lenet_eval.onnx" --loss=cross_entropy \
	--optimizer=sgd:lr=0.05,momentum=0.9 --shape x=8,1,28,28
run lenet_rng 10 "$M/lenet.onnx" --loss=cross_entropy --optimizer=adam:lr=2e-3 \
	--augment=x:hflip,crop=1,contrast=0.1 --shape x=8,1,28,28
run mlp_adamw 10 "$M/mlp_tanh.onnx" --loss=cross_entropy --optimizer=adamw:lr=1e-3 \
	--shape x=8,1,28,28 -O3
run mlp_sgd 10 "$M/mlp_relu.onnx" --loss=cross_entropy \
	--optimizer=sgd:lr=0.1,momentum=0.9,dampening=0.1,weight_decay=1e-4 --shape x=8,1,28,28 -O0
run gru 2 "$SRC/examples/models/gru_classifier.nn" --shape tokens=4,20
run resnet 10 "$SRC/examples/models/resnet.nn" --shape x=2,3,32,32

# usage: --split-step needs --train; not with --grad-inputs or --max-memory
st=0
"$NNCC" "$M/lenet_eval.onnx" --split-step -o "$T/x.so" 2>"$T/err" || st=$?
[ "$st" = 2 ] && grep -q -- "--train" "$T/err" || { echo "FAIL: --split-step without --train: exit $st"; exit 1; }
st=0
"$NNCC" "$M/mlp_relu.onnx" --train --loss=cross_entropy --grad-inputs=x --split-step \
	--shape x=8,1,28,28 -o "$T/x.so" 2>"$T/err" || st=$?
[ "$st" = 1 ] && grep -q -- "--split-step: not with" "$T/err" || { echo "FAIL: --grad-inputs: exit $st"; exit 1; }
[ ! -e "$T/x.so" ] || { echo "FAIL: an output was left behind"; exit 1; }
st=0
"$NNCC" "$M/mlp_relu.onnx" --train --loss=cross_entropy --split-step --emit=obj \
	--shape x=8,1,28,28 -o "$T/x.o" 2>"$T/err" || st=$?
[ "$st" = 2 ] && grep -q -- "--split-step makes" "$T/err" || { echo "FAIL: --emit=obj: exit $st"; exit 1; }
echo "split_test: OK"
