#!/bin/sh
# run.sh FUZZ_BUILD SECONDS [BUILD] — runs each libFuzzer target of
# FUZZ_BUILD (make fuzz) for SECONDS from its seeds: the repository's own
# inputs, the past findings in tests/fuzz/regress, and, when BUILD has
# them, the ONNX node suite and zoo models the normal build generated.
# Prints each target's executions; exits 1 on the first finding (its input
# is in FUZZ_BUILD/findings: add it to tests/fuzz/regress/NAME once fixed).
set -eu
FB=$1
SECS=$2
BUILD=${3:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$FB/findings"
seed() { # seed NAME FILES...: copies the files into the target's corpus
	name=$1
	shift
	mkdir -p "$FB/corpus/$name"
	for f in "$@"; do
		[ -f "$f" ] && cp "$f" "$FB/corpus/$name/$(echo "$f" | tr '/' '_')"
	done
	return 0
}
seed nn $(find "$ROOT/tests/nn" "$ROOT/examples/models" "$ROOT/tests/fuzz/regress/nn" -type f)
seed ir $(find "$ROOT/tests/ir" "$ROOT/tests/fuzz/regress/ir" -name '*.ir' -o -path '*regress*' -type f)
seed onnx "$ROOT/examples/fashion_cnn.onnx" $(find "$ROOT/tests/fuzz/regress/onnx" -type f) \
	$(find "$BUILD/onnx-node" "$BUILD/bench/zoo-b1" -name model.onnx -size -2M 2>/dev/null | head -400)
seed tensor $(find "$ROOT/tests" -name '*.npy' -type f) $(find "$ROOT/tests/fuzz/regress/tensor" -type f) \
	$(find "$BUILD/onnx-node" -name '*.pb' -size -64k 2>/dev/null | head -400)
seed model $(find "$ROOT/tests/fuzz/regress/model" -type f)
rc=0
for name in nn ir onnx tensor model; do
	echo "== fuzz_$name: $SECS s"
	if ! "$FB/fuzz_$name" "$FB/corpus/$name" -max_total_time="$SECS" -print_final_stats=1 \
		-artifact_prefix="$FB/findings/$name-" -max_len=65536 -rss_limit_mb=4096 \
		>"$FB/fuzz_$name.log" 2>&1; then
		echo "fuzz_$name: FINDING (log: $FB/fuzz_$name.log; inputs: $FB/findings)"
		tail -n 30 "$FB/fuzz_$name.log"
		rc=1
		break
	fi
	grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$FB/fuzz_$name.log" | sed "s/^/fuzz_$name: /"
done
exit $rc
