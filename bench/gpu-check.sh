#!/bin/sh
# gpu-check.sh — the one prepared check of the cuda target on a GPU machine
# (docs/cuda.md; the device tool: /work/.library/device/README.md).
#
#   bench/gpu-check.sh prepare BUILD [infer|train]   here, without a GPU
#   bench/gpu-check.sh run                            there, from the repo root
#
# prepare compiles the models of a set with `nncc --target=cuda` into
# .gpucheck/ (git-ignored, carried to the machine): the .so files, their
# inputs, the CPU backend's outputs (nncc-run --device cpu) and training
# losses as references, and the runtime-only nncc-run with libnncc_rt
# (no LLVM, no protobuf needed there; a model needs only libc and libm).
# Sets (each under the 64 MiB a call carries; ResNet-18's weights are 45
# MB):
#   infer: ResNet-18 batch 1, LeNet batch 2; the MLP and LeNet training
#          steps at batch 64
#   train: the ResNet-18 training step at batch 64
# run checks every output against its reference at
# |out - ref| <= 1e-3 + 1e-3*|ref| (losses of 3 steps likewise), times nncc
# (nncc-run --bench; training: 100 steps) and PyTorch (bench/gpu_torch.py:
# eager, CUDA graphs, torch.compile for inference), prints a table and
# writes it with the raw logs to $OUT (else ./gpucheck-out). Exit 1 when a
# check fails. Call it as: run(command="sh bench/gpu-check.sh run",
# carry=[".gpucheck"], timeout_s=600).
set -eu
D=.gpucheck
PY=${PYTHON:-python3}

prepare() {
	B=$1
	SET=${2:-infer}
	PY=${PYTHON:-/usr/bin/python3}
	rm -rf "$D"
	mkdir -p "$D/bin" "$D/lib"
	$PY tests/zoo/zoo_models.py "$B/zoo" --models resnet18,lenet,mlp >/dev/null
	$PY tests/zoo/zoo_models.py "$B/zoo64" --models resnet18,lenet,mlp --batch 64 >/dev/null
	TRAIN="--train --loss=cross_entropy --optimizer=sgd:lr=0.01,momentum=0.9"
	if [ "$SET" = infer ]; then
		cases="resnet18:infer:zoo lenet:infer:zoo mlp:train:zoo64 lenet:train:zoo64"
	else
		cases="resnet18:train:zoo64"
	fi
	: >"$D/cases"
	for c in $cases; do
		name=${c%%:*}; rest=${c#*:}; mode=${rest%%:*}; zoo=${rest#*:}
		id=${name}_$mode
		flags=""
		[ "$mode" = train ] && flags=$TRAIN
		echo "gpu-check: compiling $id"
		# shellcheck disable=SC2086
		"$B/nncc" "$B/$zoo/$name/model.onnx" --target=cuda $flags -o "$D/$id.so"
		mkdir -p "$D/in_$id" "$D/ref_$id"
		ins=""
		for f in "$B/$zoo/$name"/*.npy; do
			n=$(basename "$f" .npy)
			case $n in ref_*|torch32_*) continue ;; esac
			cp "$f" "$D/in_$id/"
			ins="$ins -i $n=$D/in_$id/$n.npy"
		done
		if [ "$mode" = train ]; then
			$PY -c "import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(0).integers(0, int(sys.argv[2]), int(sys.argv[3])).astype(np.int64))" \
				"$D/in_$id/label.npy" "$([ "$name" = resnet18 ] && echo 1000 || echo 10)" 64
			ins="$ins -i label=$D/in_$id/label.npy"
			# shellcheck disable=SC2086
			"$B/nncc-run" "$D/$id.so" --device cpu --train 3 $ins >"$D/ref_$id/losses.txt"
		else
			# shellcheck disable=SC2086
			"$B/nncc-run" "$D/$id.so" --device cpu $ins -o "$D/ref_$id"
		fi
		batch=$($PY -c "import numpy as np, sys; print(np.load(sys.argv[1], mmap_mode='r').shape[0])" \
			"$(ls "$D/in_$id"/*.npy | head -n 1)")
		echo "$id $mode $name $batch $ins" >>"$D/cases"
	done
	cp "$B/nncc-run" "$D/bin/"
	cp -L "$B"/libnncc_rt.so* "$D/lib/"
	for f in "$D"/*.so "$D/bin/nncc-run"; do
		LD_LIBRARY_PATH="$D/lib" ldd "$f" | grep -q "not found" && { echo "gpu-check: $f lacks a library" >&2; exit 1; }
	done
	strip --strip-unneeded "$D"/*.so "$D/bin/nncc-run" "$D"/lib/*.so* 2>/dev/null || true
	# a call carries the repository's tracked files too: both under 64 MiB
	size=$(du -sb "$D" | cut -f1)
	tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -n 1 | cut -f1)
	echo "gpu-check: prepared $D ($((size / 1048576)) MiB + $((tree / 1048576)) MiB of tracked files; a call carries 64)"
	[ $((size + tree)) -lt 67108864 ] || { echo "gpu-check: too large to carry" >&2; exit 1; }
	echo "gpu-check: now run(command=\"sh bench/gpu-check.sh run\", carry=[\".gpucheck\"], timeout_s=600)"
}

check_outputs() { # ref_dir out_dir
	$PY - "$1" "$2" <<'PYEOF'
import os, sys
import numpy as np
ref, out = sys.argv[1], sys.argv[2]
bad = 0
for f in sorted(os.listdir(ref)):
    a, b = np.load(os.path.join(out, f)).astype(np.float64), np.load(os.path.join(ref, f)).astype(np.float64)
    err = np.abs(a - b)
    ok = a.shape == b.shape and bool(np.all(err <= 1e-3 + 1e-3 * np.abs(b)))
    bad += not ok
    print(f"  {f}: max |out-ref| {err.max():.3g} (|ref| <= {np.abs(b).max():.3g}) {'ok' if ok else 'MISMATCH'}")
sys.exit(1 if bad else 0)
PYEOF
}

check_losses() { # ref.txt got.txt
	$PY - "$1" "$2" <<'PYEOF'
import sys
ls = lambda p: [float(l.split()[3]) for l in open(p) if l.startswith("step ")]
a, b = ls(sys.argv[2]), ls(sys.argv[1])
ok = len(a) == len(b) == 3 and all(abs(x - y) <= 1e-3 + 1e-3 * abs(y) for x, y in zip(a, b))
print(f"  losses gpu {a} cpu {b} {'ok' if ok else 'MISMATCH'}")
sys.exit(0 if ok else 1)
PYEOF
}

now_ms() { $PY -c 'import time; print(time.time() * 1e3)'; }

run_check() {
	O=${OUT:-./gpucheck-out}
	mkdir -p "$O"
	L="$PWD/$D/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" # for nncc-run alone (libnncc_rt), not torch
	R="env LD_LIBRARY_PATH=$L $D/bin/nncc-run"
	fail=0
	{
		nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
		while read -r id mode name batch ins; do
			echo "== $id (batch $batch)"
			if [ "$mode" = infer ]; then
				mkdir -p "$O/$id"
				# shellcheck disable=SC2086
				if $R "$D/$id.so" $ins -o "$O/$id" && check_outputs "$D/ref_$id" "$O/$id"; then
					echo "  numerics: PASS"
				else
					echo "  numerics: FAIL"; fail=1
				fi
				# shellcheck disable=SC2086
				echo "  nncc: $($R "$D/$id.so" $ins --bench 200)"
				# shellcheck disable=SC2086
				NNCC_CUDA_GRAPH=0 $R "$D/$id.so" $ins --bench 200 | sed 's/^/  nncc without graph: /'
				$PY bench/gpu_torch.py "$name" "$batch" infer --compile | sed 's/^/  torch: /' || echo "  torch: failed"
			else
				# shellcheck disable=SC2086
				if $R "$D/$id.so" $ins --train 3 >"$O/$id.losses" && check_losses "$D/ref_$id/losses.txt" "$O/$id.losses"; then
					echo "  numerics: PASS"
				else
					echo "  numerics: FAIL"; fail=1
				fi
				t0=$(now_ms)
				# shellcheck disable=SC2086
				$R "$D/$id.so" $ins --train 3 >/dev/null
				t1=$(now_ms)
				# shellcheck disable=SC2086
				$R "$D/$id.so" $ins --train 103 >/dev/null
				t2=$(now_ms)
				$PY -c "import sys; a,b,c=map(float,sys.argv[1:]); print(f'  nncc: train step {((c-b)-(b-a))/100:.3f} ms (100 steps, load excluded)')" "$t0" "$t1" "$t2"
				$PY bench/gpu_torch.py "$name" "$batch" train | sed 's/^/  torch: /' || echo "  torch: failed"
			fi
		done <"$D/cases"
		[ $fail = 0 ] && echo "gpu-check: all numerics PASS" || echo "gpu-check: numerics FAILED"
	} 2>&1 | tee "$O/gpu-check.txt"
	grep -q "all numerics PASS" "$O/gpu-check.txt"
}

case "${1:-}" in
prepare) shift; prepare "$@" ;;
run) run_check ;;
*) echo "usage: bench/gpu-check.sh prepare BUILD [infer|train] | run" >&2; exit 2 ;;
esac
