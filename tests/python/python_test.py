"""python_test.py BUILD SRC — the Python binding (python/nncc) against nncc-run.

Compiles examples/fashion_cnn.onnx with nncc.compile (batch 3) and checks that
model.run() returns exactly what nncc-run writes for the same input; compiles
examples/models/mlp.nn as a training step and checks that two train_step()
calls give the losses nncc-run --train 2 prints and the same saved weights,
that load_weights() restores them, and that a wrong input raises nncc.Error
naming it. Exit 0 when all hold.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

BUILD, SRC = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
os.environ["NNCC"] = os.path.join(BUILD, "nncc")
os.environ["NNCC_RT_LIB"] = os.path.join(BUILD, "libnncc_rt.so")
sys.path.insert(0, os.path.join(SRC, "python"))
import nncc  # noqa: E402

RUN = os.path.join(BUILD, "nncc-run")
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    failures += 0 if cond else 1


def nncc_run(*args):
    r = subprocess.run([RUN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit("nncc-run failed: " + r.stderr)
    return r.stdout


with tempfile.TemporaryDirectory() as t:
    rng = np.random.default_rng(7)
    # inference
    so = nncc.compile(os.path.join(SRC, "examples", "fashion_cnn.onnx"), os.path.join(t, "f.so"),
                      shape={"input": (3, 1, 28, 28)})
    x = rng.standard_normal((3, 1, 28, 28), dtype=np.float32)
    np.save(os.path.join(t, "x.npy"), x)
    nncc_run(so, "-i", "input=" + os.path.join(t, "x.npy"), "-o", os.path.join(t, "out"))
    m = nncc.load(so)
    check([i.name for i in m.inputs] == ["input"] and m.inputs[0].shape == (3, 1, 28, 28),
          "model.inputs describes the input")
    got = m.run(input=x)
    for o in m.outputs:
        want = np.load(os.path.join(t, "out", o.name + ".npy"))
        check(got[o.name].dtype == want.dtype and np.array_equal(got[o.name], want),
              "run() output %s equals nncc-run's" % o.name)
    again = m.run({"input": x})
    check(all(np.array_equal(again[k], got[k]) for k in got), "run(feeds dict) gives the same outputs")
    try:
        m.run(input=np.zeros((2, 1, 28, 28), np.float32))
        check(False, "a wrong input shape raises nncc.Error")
    except nncc.Error as e:
        check("input" in str(e) and "[2,1,28,28]" in str(e).replace(" ", ""),
              "a wrong input shape raises nncc.Error: %s" % e)
    m.close()

    # training
    step = nncc.compile(os.path.join(SRC, "examples", "models", "mlp.nn"), os.path.join(t, "s.so"),
                        shape={"x": (4, 1, 28, 28)}, train=True)
    xb = rng.standard_normal((4, 1, 28, 28), dtype=np.float32)
    yb = rng.integers(0, 10, size=4).astype(np.int64)
    np.save(os.path.join(t, "xb.npy"), xb)
    np.save(os.path.join(t, "yb.npy"), yb)
    w_cli = os.path.join(t, "cli.safetensors")
    out = nncc_run(step, "--train", "2", "-i", "x=" + os.path.join(t, "xb.npy"),
                   "-i", "label=" + os.path.join(t, "yb.npy"), "--save-weights", w_cli)
    cli_losses = [float(line.split()[3]) for line in out.splitlines() if line.startswith("step ")]
    s = nncc.load(step)
    check(s.is_training, "the step is a training model")
    losses = [s.train_step(x=xb, label=yb) for _ in range(2)]
    check(s.step == 2, "two steps counted")
    check(len(cli_losses) == 2 and all(float("%.9g" % a) == b for a, b in zip(losses, cli_losses)),
          "train_step() losses %s equal nncc-run --train's %s" % (losses, cli_losses))
    w_py = os.path.join(t, "py.safetensors")
    s.save_weights(w_py)
    fresh = nncc.load(step)
    fresh.load_weights(w_cli)
    same = all(np.array_equal(s.get_param(p.name), fresh.get_param(p.name)) for p in s.params)
    check(same and len(s.params) > 0, "load_weights(nncc-run's file) gives train_step()'s parameters")
    fresh2 = nncc.load(step)
    before = fresh2.get_param(s.params[0].name).copy()
    fresh2.load_weights(w_py)
    check(np.array_equal(fresh2.get_param(s.params[0].name), s.get_param(s.params[0].name)) and
          not np.array_equal(before, s.get_param(s.params[0].name)),
          "save_weights()/load_weights() round trip")
    try:
        nncc.compile(os.path.join(t, "missing.onnx"), os.path.join(t, "m.so"))
        check(False, "compile() of a missing file raises nncc.Error")
    except nncc.Error as e:
        check("missing.onnx" in str(e), "compile() of a missing file raises: %s" % str(e).splitlines()[0])

print("python_test: %s" % ("ok" if failures == 0 else "%d failed" % failures))
sys.exit(1 if failures else 0)
