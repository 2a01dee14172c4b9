#!/usr/bin/env bash
# Side-by-side latency benchmark: run.sh BUILD_DIR [bench.py options]   (`make bench`)
#
# Installs ONNX Runtime for Node (onnxruntime-node, the exact version in
# bench/package.json) into bench/node_modules with npm if it is not there
# yet; if that fails the benchmark goes on without ORT. Then runs
# bench/bench.py: the GEMM micro-benchmark (build/gemm_bench) and nncc vs
# PyTorch eager vs ORT on the whole model zoo (tests/zoo/zoo_models.py),
# batch 1 and 32 (large models 1 and 8), 1 and 2 threads, printing a
# markdown table and writing it with a chart to bench/results/ (results.md,
# nncc_vs_ort.png); then the training-step benchmark (bench/train_bench.py,
# bench/results/results_train.md). Method: docs/benchmarks.md.
# Exit status: 1 when either benchmark reported a problem (both still run).
# Environment: NNCC_PYTHON (default /usr/bin/python3).
set -euo pipefail

if [ $# -lt 1 ]; then echo "usage: $0 BUILD_DIR [bench.py options]" >&2; exit 2; fi
BUILD=$1
shift
PY=${NNCC_PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)

die() { echo "bench: $*" >&2; exit 1; }
for tool in nncc nncc-run; do
  [ -x "$BUILD/$tool" ] || die "$BUILD/$tool not found (run 'make build' first)"
done
[ -x "$PY" ] || die "python interpreter $PY not found (set NNCC_PYTHON)"

# ONNX Runtime (optional). The CPU binaries ship inside the npm package; the
# package's install script would fetch CUDA binaries from NuGet, which is
# skipped (ONNXRUNTIME_NODE_INSTALL=skip).
want=$(sed -n 's/.*"onnxruntime-node": *"\([^"]*\)".*/\1/p' "$HERE/package.json")
have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
         "$HERE/node_modules/onnxruntime-node/package.json" 2>/dev/null | head -n 1 || true)
if [ "$have" != "$want" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "+ (cd bench && npm install)   # onnxruntime-node $want"
    if ! (cd "$HERE" && ONNXRUNTIME_NODE_INSTALL=skip timeout 600 npm install --no-audit --no-fund \
            --fetch-retries=1 --onnxruntime-node-install=skip >&2); then
      echo "bench: npm install of onnxruntime-node $want failed; ORT unavailable, going on without it" >&2
    fi
  else
    echo "bench: npm not found; ORT unavailable, going on without it" >&2
  fi
fi

rc=0
"$PY" "$HERE/bench.py" --build "$BUILD" --cmd "bench/run.sh $BUILD${*:+ $*}" "$@" || rc=$?
[ "$rc" -eq 2 ] && exit 2   # usage error
# Then the training-step benchmark (time and peak memory per step against
# PyTorch eager, bench/train_bench.py): bench/results/results_train.md.
"$PY" "$HERE/train_bench.py" --build "$BUILD" --cmd "bench/run.sh $BUILD" || rc=1
exit "$rc"
