"""Every examples/models/*.nn compiles: examples.py BUILD_DIR [NAME...].

Each model is compiled for inference and run once by nncc-run on random
inputs (the symbolic batch N bound to 2 with --shape); a model with a
`loss` statement is also compiled with --train from its own loss, train
and augment statements, and two training steps run on random inputs
(i64 labels 0, float labels in [0, 1)); every printed loss must be finite.
"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DECL = re.compile(r"^(input|label)\s+(\w+)\s*:\s*(\w+)\[([^\]]*)\]", re.M)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("FAIL: %s\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))
    return r.stdout


def main():
    build = sys.argv[1]
    nncc, runner = os.path.join(build, "nncc"), os.path.join(build, "nncc-run")
    mdir = os.path.join(ROOT, "examples", "models")
    names = sys.argv[2:] or sorted(f[:-3] for f in os.listdir(mdir) if f.endswith(".nn"))
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            src = os.path.join(mdir, name + ".nn")
            text = open(src).read()
            shapes, feeds, labels = [], [], []
            for kind, var, dt, dims in DECL.findall(text):
                d = [2 if x.strip() == "N" else int(x) for x in dims.split(",")]
                if dt == "i64":
                    a = np.zeros(d, np.int64)
                else:
                    a = rng.random(d).astype(np.float32)
                f = os.path.join(tmp, "%s_%s.npy" % (name, var))
                np.save(f, a)
                (labels if kind == "label" else feeds).append("%s=%s" % (var, f))
                if kind == "input":
                    shapes += ["--shape", "%s=%s" % (var, ",".join(map(str, d)))]
            so = os.path.join(tmp, name + ".so")
            run([nncc, src, "-o", so] + shapes)
            run([runner, so] + sum((["-i", f] for f in feeds), []) + ["-o", os.path.join(tmp, name)])
            msg = "ok: %s (inference" % name
            if re.search(r"^loss\s*=", text, re.M):
                ts = os.path.join(tmp, name + "_train.so")
                run([nncc, src, "--train", "-o", ts] + shapes)
                out = run([runner, ts, "--train", "2"] + sum((["-i", f] for f in feeds + labels), []))
                losses = [float(l.split()[3]) for l in out.splitlines() if l.startswith("step")]
                if len(losses) != 2 or not all(np.isfinite(losses)):
                    sys.exit("FAIL: %s: training losses %s" % (name, out))
                msg += ", training step: losses %s" % " ".join("%.4g" % l for l in losses)
            print(msg + ")")


if __name__ == "__main__":
    main()
