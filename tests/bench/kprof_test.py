"""bench/kprof/kprof.py on the bundled Fashion-MNIST CNN: every kernel of
the run function is timed, once per call, and the classes add up.

    kprof_test.py BUILD_DIR
"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    build = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        x = os.path.join(d, "x.npy")
        np.save(x, np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32))
        kprof = os.path.join(ROOT, "bench", "kprof", "kprof.py")
        r = subprocess.run([sys.executable, kprof, "--build", build,
                            os.path.join(ROOT, "examples", "fashion_cnn.onnx"), "--runs", "2",
                            "--nncc-arg=--shape", "--nncc-arg=input=2,1,28,28", "--keep", d,
                            "--", "--bench", "4", "-i", "input=" + x, "--threads", "1"],
                           capture_output=True, text=True)
        print(r.stdout, r.stderr)
        assert r.returncode == 0, "kprof failed"
        m = re.search(r"^kernels timed: (\d+) of (\d+)$", r.stdout, re.M)
        assert m and m.group(1) == m.group(2) and int(m.group(1)) >= 4, "not every kernel timed"
        calls = re.search(r"^calls: (\d+), median ([\d.]+) ms", r.stdout, re.M)
        assert calls and int(calls.group(1)) == 2 * 5, "one warm-up and 4 timed runs, twice"
        rows = re.findall(r"^([a-z][a-z0-9_ ]*?) +([\d.]+) +(\d+)$", r.stdout, re.M)
        total = [float(t) for c, t, n in rows if c == "sum of least"]
        parts = sum(float(t) for c, t, n in rows if c != "sum of least")
        assert total and abs(parts - total[0]) < 1e-2, "classes do not add up"
        assert 0 < total[0] <= float(calls.group(2)) * 1.05, "kernels take longer than the call"
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
