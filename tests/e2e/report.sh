#!/usr/bin/env bash
# nncc --report on LeNet: report.sh BUILD_DIR
#
# With -o the shared library is still written and the report goes to
# stdout: a kernel table, the memory plan and the three lines
# `naive bytes: N`, `lower bound bytes: N`, `arena bytes: N`, with
# lower bound <= arena <= naive. Without -o only the report is made.
# Needs BUILD_DIR/e2e/lenet.onnx (the e2e/models fixture). Ends with one
# line: "PASS: ..." or "FAIL: ...".
set -euo pipefail

if [ $# -ne 1 ]; then echo "usage: $0 BUILD_DIR" >&2; exit 2; fi
BUILD=$1
DIR=$BUILD/e2e/report
ONNX=$BUILD/e2e/lenet.onnx
fail() { echo "FAIL: e2e report: $*"; exit 1; }

[ -x "$BUILD/nncc" ] || fail "$BUILD/nncc not found (build it first)"
[ -f "$ONNX" ] || fail "$ONNX not found (run the e2e/models test first)"
rm -rf "$DIR"
mkdir -p "$DIR"

"$BUILD/nncc" "$ONNX" --report -o "$DIR/lenet.so" > "$DIR/report.txt" || fail "nncc --report -o exited $?"
[ -f "$DIR/lenet.so" ] || fail "--report with -o wrote no library"
grep -q '^kernels:' "$DIR/report.txt" || fail "no kernel table"
grep -q 'conv2d' "$DIR/report.txt" || fail "no conv2d kernel in the table"
grep -q '^memory plan:' "$DIR/report.txt" || fail "no memory plan"
num() { sed -n "s/^$1: \([0-9][0-9]*\)\$/\1/p" "$DIR/report.txt"; }
naive=$(num 'naive bytes')
lower=$(num 'lower bound bytes')
arena=$(num 'arena bytes')
[ -n "$naive" ] && [ -n "$lower" ] && [ -n "$arena" ] || fail "missing naive/lower bound/arena lines"
[ "$lower" -le "$arena" ] || fail "lower bound $lower > arena $arena"
[ "$arena" -le "$naive" ] || fail "arena $arena > naive $naive"
[ "$arena" -gt 0 ] || fail "arena is empty"

"$BUILD/nncc" "$ONNX" --report > "$DIR/alone.txt" || fail "nncc --report without -o exited $?"
cmp -s <(grep -v '^imported' "$DIR/report.txt") <(grep -v '^imported' "$DIR/alone.txt") \
  || fail "the report differs with and without -o"
[ -z "$(ls "$DIR" | grep -v -e '^report.txt$' -e '^alone.txt$' -e '^lenet.so$')" ] \
  || fail "--report without -o left a file behind"
echo "PASS: e2e report (naive $naive, lower bound $lower, arena $arena)"
