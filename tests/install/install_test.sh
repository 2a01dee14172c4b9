#!/usr/bin/env bash
# install_test.sh BUILD SRC — `cmake --install` into a temporary prefix, then
# as a user of that prefix alone: compile two models with the installed nncc
# (--name=fashion and --name=mlp; each an object file, its header and a .so),
# check the compiler linked the kernel library of the prefix, build
# tests/install/app/app.c against the prefix once with pkg-config and once
# with CMake's find_package(nncc), run both programs and compare every
# output value of both models with what the installed nncc-run computes
# from the .so of the same model (exactly: same code, same input).
set -euo pipefail
if [ $# -ne 2 ]; then echo "usage: $0 BUILD SRC" >&2; exit 2; fi
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
PY=${NNCC_PYTHON:-/usr/bin/python3}
T=$(mktemp -d /tmp/nncc-install-XXXXXX)
trap 'rm -rf "$T"' EXIT
die() { echo "install_test: $*" >&2; exit 1; }

P=$T/prefix
cmake --install "$BUILD" --prefix "$P" > "$T/install.log" || die "cmake --install failed"
LIB=$(dirname "$(find "$P" -name libnncc_rt.so | head -1)")
for f in bin/nncc bin/nncc-run include/nncc/nncc.h; do
  [ -f "$P/$f" ] || die "$f not installed"
done
for f in libnncc_rt.so libnncc_rt.a libnncc_rt_kernels.a pkgconfig/nncc.pc cmake/nncc/nnccConfig.cmake; do
  [ -f "$LIB/$f" ] || die "$LIB/$f not installed"
done
unset NNCC_RT_KERNELS_LIB
export PATH=$P/bin:$PATH PKG_CONFIG_PATH=$LIB/pkgconfig

nncc --version | grep -q "^nncc $(pkg-config --modversion nncc)\$" || die "nncc --version and nncc.pc disagree"
nncc-run --version | grep -q "^nncc-run $(pkg-config --modversion nncc)\$" || die "nncc-run --version"

M=$T/models
mkdir -p "$M"
compile() { # NAME MODEL FLAGS...
  local name=$1 model=$2
  shift 2
  nncc "$model" --name="$name" "$@" -v -o "$M/$name.so" 2> "$T/$name.log" || { cat "$T/$name.log"; die "compiling $name"; }
  grep -q "kernel library $LIB/libnncc_rt_kernels.a" "$T/$name.log" ||
    { cat "$T/$name.log"; die "the installed nncc did not link the prefix's kernel library"; }
  nncc "$model" --name="$name" "$@" --emit=obj -o "$M/$name.o"
  nncc "$model" --name="$name" "$@" --emit=header -o "$M/$name.h"
}
compile fashion "$SRC/examples/fashion_cnn.onnx" --shape input=1,1,28,28
compile mlp "$SRC/examples/models/mlp.nn" --shape x=1,1,28,28

# pkg-config, the shared runtime
cc -std=c11 -Wall -Werror -o "$T/app_pc" "$SRC/tests/install/app/app.c" -I"$M" "$M/fashion.o" "$M/mlp.o" \
  $(pkg-config --cflags --libs nncc) $(pkg-config --variable=model_libs nncc) || die "pkg-config build failed"
# CMake, the static runtime
cmake -S "$SRC/tests/install/app" -B "$T/cm" -DCMAKE_PREFIX_PATH="$P" -DMODELS="$M" > "$T/cm.log" 2>&1 ||
  { cat "$T/cm.log"; die "cmake configure failed"; }
cmake --build "$T/cm" > "$T/cmb.log" 2>&1 || { cat "$T/cmb.log"; die "cmake build failed"; }
if ldd "$T/cm/app" | grep -q libnncc_rt; then die "the CMake app (nncc::rt_static) loads libnncc_rt.so"; fi

"$T/app_pc" > "$T/pc.txt" || die "the pkg-config app failed"
"$T/cm/app" > "$T/cm.txt" || die "the CMake app failed"

"$PY" - "$T" <<'PYEOF' || die "outputs differ"
import subprocess, sys, numpy as np
T = sys.argv[1]
for name, inp, shape in (("fashion", "input", (1, 1, 28, 28)), ("mlp", "x", (1, 1, 28, 28))):
    n = int(np.prod(shape))
    x = (np.float32(1) * ((np.arange(n) * 37) % 101).astype(np.float32) / np.float32(101)).reshape(shape)
    np.save(f"{T}/{name}_in.npy", x.astype(np.float32))
    subprocess.run(["nncc-run", f"{T}/models/{name}.so", "-i", f"{inp}={T}/{name}_in.npy",
                    "-o", f"{T}/out_{name}"], check=True, stdout=subprocess.DEVNULL)
def parse(path):
    out, cur = {}, None
    for line in open(path):
        if line.startswith("model "):
            cur = out.setdefault(line.split()[1], [])
        else:
            cur.append(np.float32(float(line)))
    return out
for app in ("pc", "cm"):
    got = parse(f"{T}/{app}.txt")
    assert sorted(got) == ["fashion", "mlp"], got.keys()
    for name in ("fashion", "mlp"):
        ref = [f for f in __import__("os").listdir(f"{T}/out_{name}")]
        want = np.load(f"{T}/out_{name}/{ref[0]}").ravel()
        g = np.array(got[name], dtype=np.float32)
        assert g.shape == want.shape and np.array_equal(g, want), (app, name, g[:4], want[:4])
print("install_test: both apps match nncc-run for both models")
PYEOF
# the installed Python binding finds the prefix's runtime and compiler
env -u NNCC_RT_LIB -u NNCC PYTHONPATH="$P/share/nncc/python" "$PY" - "$P" "$M" "$SRC" <<'PYEOF' || die "the installed Python binding"
import os, sys
import numpy as np
import nncc
P, M, SRC = sys.argv[1:]
assert nncc._find_lib().startswith(os.path.realpath(P)) or nncc._find_lib().startswith(P), nncc._find_lib()
assert nncc._compiler().startswith(P), nncc._compiler()
so = nncc.compile(os.path.join(SRC, "examples", "fashion_cnn.onnx"), os.path.join(M, "py.so"),
                  shape={"input": (1, 1, 28, 28)}, name="pyfashion")
m = nncc.load(so)
assert m.name == "pyfashion" and m.run(input=np.zeros((1, 1, 28, 28), np.float32))["logits"].shape == (1, 10)
print("install_test: the installed Python binding compiles with and runs on the prefix")
PYEOF
echo "install_test: ok (prefix $P)"
