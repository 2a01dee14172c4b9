#!/usr/bin/env bash
# nan.sh BUILD_DIR: compiles tests/e2e/nan.ir at -O0 and -O2, runs it on an
# input holding NaNs, and checks that every max/min-based op propagates them
# exactly where numpy (the same semantics as PyTorch and ir/eval.c) does.
set -euo pipefail
BUILD=$1
PY=${NNCC_PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$BUILD/e2e/nan
mkdir -p "$DIR"
"$PY" -c "
import numpy as np
x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4) - 8
x[0, 0, 0, 1] = np.nan
x[0, 0, 3, 3] = np.nan
np.save('$DIR/x.npy', x)"
for opt in -O0 -O2; do
  rm -rf "$DIR/out$opt"
  "$BUILD/nncc" "$HERE/nan.ir" $opt -o "$DIR/nan$opt.so"
  "$BUILD/nncc-run" "$DIR/nan$opt.so" -i "x=$DIR/x.npy" -o "$DIR/out$opt"
  "$PY" - "$DIR" "$opt" <<'PYEOF'
import sys
import numpy as np
d, opt = sys.argv[1], sys.argv[2]
x = np.load(d + "/x.npy")
want = {
    "c": np.clip(x, -1, 1),
    "p": x.reshape(1, 1, 2, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(1, 1, 2, 2, 4).max(axis=4),
    "r": x.max(axis=3),
    "l": np.where(x < 0, 0.1 * x, x).astype(np.float32),
}
bad = 0
for name, w in want.items():
    got = np.load(f"{d}/out{opt}/{name}.npy")
    if got.shape != w.shape or not np.array_equal(np.isnan(got), np.isnan(w)) or \
            not np.allclose(got[~np.isnan(w)], w[~np.isnan(w)], rtol=1e-6, atol=1e-6):
        print(f"FAIL: {opt} output {name}: got {got.ravel()}, want {w.ravel()}")
        bad = 1
if bad:
    sys.exit(1)
print(f"PASS: {opt} NaN propagates through clip, maxpool, reduce_max, leaky_relu")
PYEOF
done
