#!/usr/bin/env bash
# cli_test.sh BUILD SRC — the nncc and nncc-run command lines as a new user
# meets them (issue 14): --version; --cpu/--features LLVM does not know are
# one `nncc:` usage error (exit 2); usage errors are one line and a hint;
# model errors start with `nncc:`; a write into a missing folder names the
# path given; --emit=ir --all-constants compiles back to the same outputs;
# --emit=ir --report without -o is refused; test-onnx on a folder without
# tests fails; --emit=kernels and --report name buffers alike; nncc-run
# --json -o DIR prints its JSON object; -v prints a line per stage; every
# option of `nncc --help` is in docs/cli.md and every option there in it.
set -uo pipefail
if [ $# -ne 2 ]; then echo "usage: $0 BUILD SRC" >&2; exit 2; fi
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
NNCC=$BUILD/nncc
RUN=$BUILD/nncc-run
PY=${NNCC_PYTHON:-/usr/bin/python3}
T=$(mktemp -d /tmp/nncc-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
M=$SRC/examples/fashion_cnn.onnx
S="--shape input=1,1,28,28"
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
# expect STATUS WHAT CMD...: runs CMD, stdout in $T/out, stderr in $T/err
expect() {
  local want=$1 what=$2 st=0
  shift 2
  "$@" > "$T/out" 2> "$T/err" || st=$?
  if [ "$st" -ne "$want" ]; then bad "$what: exit $st, want $want"; sed 's/^/     /' "$T/err" | head -5; return 1; fi
  return 0
}
lines() { grep -c . "$1"; }

expect 0 "nncc --version" "$NNCC" --version && grep -q '^nncc [0-9]' "$T/out" && ok "nncc --version: $(head -1 "$T/out")"
expect 0 "nncc-run --version" "$RUN" --version && grep -q '^nncc-run [0-9]' "$T/out" && ok "nncc-run --version"

for opt in --cpu=nosuchcpu --features=bogus --features=+bogus; do
  if expect 2 "nncc $opt" "$NNCC" $M $S "$opt" -o "$T/x.so"; then
    if [ "$(lines "$T/err")" -eq 2 ] && head -1 "$T/err" | grep -q "^nncc: .*${opt#*=}" && [ ! -e "$T/x.so" ]; then
      ok "nncc $opt: exit 2, $(head -1 "$T/err")"
    else bad "nncc $opt: want one nncc: line naming it and the hint"; cat "$T/err"; fi
  fi
done
expect 0 "nncc --cpu=skylake --features=+avx2" "$NNCC" $M $S --cpu=skylake --features=+avx2 -o "$T/x.so" &&
  [ ! -s "$T/err" ] && ok "a known --cpu and --features compile silently"

for args in "--no-such-option" "--emit=nothing" "--shape=bad"; do
  if expect 2 "nncc $args" "$NNCC" $M $args -o "$T/x.so"; then
    if [ "$(lines "$T/err")" -eq 2 ] && grep -q "nncc --help" "$T/err"; then ok "usage error $args: one line and a hint"
    else bad "usage error $args: $(lines "$T/err") lines"; fi
  fi
done

expect 1 "a missing model" "$NNCC" "$T/missing.onnx" -o "$T/x.so" &&
  grep -q "^nncc: $T/missing.onnx" "$T/err" && ok "model errors start with nncc: ($(head -1 "$T/err"))"
expect 1 "a write into a missing folder" "$NNCC" $M $S -o "$T/no/such/dir/x.so" &&
  grep -q "$T/no/such/dir/x.so: cannot write" "$T/err" && ! grep -q '\.tmp[0-9]' "$T/err" &&
  ok "a write into a missing folder names the path given"
expect 1 "--emit=ir into a missing folder" "$NNCC" $M $S --emit=ir -o "$T/no/x.ir" &&
  grep -q "$T/no/x.ir: cannot write" "$T/err" && ok "--emit=ir into a missing folder names the path given"

expect 2 "--emit=ir --report without -o" "$NNCC" $M $S --emit=ir --report && [ ! -s "$T/out" ] &&
  ok "--emit=ir --report without -o: a usage error, nothing on stdout"
expect 0 "--emit=ir --report -o" "$NNCC" $M $S --emit=ir --report -o "$T/r.ir" && grep -q "arena bytes" "$T/out" &&
  ! grep -q "arena bytes" "$T/r.ir" && ok "--emit=ir -o FILE --report: the report on stdout, the IR in FILE"

# --emit=ir --all-constants compiles back to the same outputs
"$NNCC" $M $S --emit=ir -o "$T/elided.ir" && "$NNCC" $M $S --emit=ir --all-constants -o "$T/full.ir"
if expect 0 "compile the full IR" "$NNCC" "$T/full.ir" -o "$T/back.so" && "$NNCC" $M $S -o "$T/orig.so"; then
  "$PY" -c "import numpy as np; np.save('$T/x.npy', np.random.default_rng(3).standard_normal((1,1,28,28), dtype=np.float32))"
  "$RUN" "$T/orig.so" -i "$T/x.npy" -o "$T/o1" > /dev/null && "$RUN" "$T/back.so" -i "$T/x.npy" -o "$T/o2" > /dev/null
  if cmp -s "$T/o1/logits.npy" "$T/o2/logits.npy"; then ok "--emit=ir --all-constants compiles back: same outputs"
  else bad "--emit=ir --all-constants: outputs differ after the round trip"; fi
fi
expect 1 "the elided IR does not compile" "$NNCC" "$T/elided.ir" -o "$T/e.so" && ok "the default IR (elided constants) is refused, exit 1"

# unsupported element types are named
"$PY" -c "
import onnx
from onnx import helper, TensorProto as T
g = helper.make_graph([helper.make_node('Identity', ['x'], ['y'])], 'g',
                      [helper.make_tensor_value_info('x', T.COMPLEX64, [2])],
                      [helper.make_tensor_value_info('y', T.COMPLEX64, [2])])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)]), '$T/c64.onnx')"
expect 1 "a complex64 input" "$NNCC" "$T/c64.onnx" -o "$T/c.so" && grep -q "^nncc: .*complex64 is unsupported" "$T/err" &&
  ok "an unsupported element type is named: $(head -1 "$T/err" | sed "s|$T/||")"

mkdir -p "$T/empty"
expect 1 "test-onnx on a folder without tests" "$NNCC" test-onnx "$T/empty" && grep -q "no tests" "$T/err" &&
  ok "test-onnx on a folder without tests: exit 1"

# --emit=kernels and --report name the same buffers
"$NNCC" $M $S --emit=kernels > "$T/k.txt" && "$NNCC" $M $S --report > "$T/r.txt"
kb=$(grep -oE '^  t[0-9]+ temp' "$T/k.txt" | awk '{print $1}' | sort -u | tr '\n' ' ')
rb=$(sed -n '/^memory plan/,$p' "$T/r.txt" | grep -oE '^ *[a-z][0-9]+ ' | tr -d ' ' | sort -u | tr '\n' ' ')
if [ -n "$kb" ] && [ "$kb" = "$rb" ]; then ok "--emit=kernels and --report name buffers alike ($kb)"
else bad "--emit=kernels buffers '$kb' vs --report '$rb'"; fi

# nncc-run --json -o DIR
"$NNCC" $M $S -o "$T/f.so"
if expect 0 "nncc-run --json -o" "$RUN" "$T/f.so" -i "$T/x.npy" --json -o "$T/jo"; then
  if "$PY" -c "import json,sys; d=json.load(open('$T/out')); sys.exit(0 if d['outputs'][0]['name']=='logits' and d['outdir']=='$T/jo' else 1)" &&
     [ -f "$T/jo/logits.npy" ]; then ok "nncc-run --json -o DIR prints one JSON object and writes DIR"
  else bad "nncc-run --json -o DIR: $(cat "$T/out")"; fi
fi

# -v: a line per stage with its time
if expect 0 "nncc -v" "$NNCC" $M $S -v -o "$T/v.so"; then
  n=$(grep -cE '^nncc: (import|passes|lower|codegen) +[0-9.]+ s' "$T/err")
  if [ "$n" -eq 4 ]; then ok "-v prints import, passes, lower, codegen with their times"; else bad "-v: $n stage lines"; cat "$T/err"; fi
fi

# --emit=header of a training step also has NAME_train_step; the header compiles alone
if expect 0 "--emit=header --train" "$NNCC" "$SRC/examples/models/mlp.nn" --shape x=4,1,28,28 --train --name=step \
     --emit=header -o "$T/step.h"; then
  printf '#include "step.h"\nint main(void) { return step_train_step(0, 0, 0, 0, 0) == NNCC_STATUS_OK && STEP_ARENA_NBYTES > 0 && STEP_INPUT0_NUMEL == 3136; }\n' > "$T/h.c"
  if grep -q 'static inline nncc_status step_train_step' "$T/step.h" &&
     cc -std=c11 -Wall -Wextra -Werror -c -I"$T" -I"$SRC/include" "$T/h.c" -o "$T/h.o"; then
    ok "--emit=header of a training step: step_train_step, compiles with -Wall -Wextra -Werror"
  else bad "--emit=header of a training step"; fi
fi
expect 2 "--name with a non-identifier" "$NNCC" $M $S --name=1bad --emit=header && ok "--name=1bad: usage error"

# --help and docs/cli.md agree: the options of the help's option column and
# of the first column of the docs' nncc table, each way
"$NNCC" --help > "$T/help.txt"
if diff=$("$PY" - "$T/help.txt" "$SRC/docs/cli.md" <<'PYEOF'
import re, sys
opt = re.compile(r"(?<![\w,=+-])(-[a-zA-Z0-9]|--[a-z][a-z-]*)")
helpopts = set()
for line in open(sys.argv[1]):
    if re.match(r"^  +-", line):
        helpopts |= set(opt.findall(re.split(r"\s{2,}", line.strip())[0]))
doc = open(sys.argv[2]).read().split("## `nncc test-onnx`")[0]
docopts = set()
for line in doc.splitlines():
    if line.startswith("| `-"):
        docopts |= set(opt.findall(line.split("|")[1]))
docopts -= {"-O0", "-O3"}
helpopts -= {"-O0", "-O3"}
a, b = sorted(helpopts - docopts), sorted(docopts - helpopts)
print("not in docs/cli.md: %s; not in --help: %s" % (a, b))
sys.exit(1 if a or b else 0)
PYEOF
); then ok "nncc --help and docs/cli.md name the same options"
else bad "--help vs docs/cli.md: $diff"; fi

if [ $fails -ne 0 ]; then echo "cli_test: $fails failed"; exit 1; fi
echo "cli_test: ok"
