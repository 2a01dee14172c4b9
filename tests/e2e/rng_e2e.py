"""Randomness in compiled training steps: rng_e2e.py BUILD_DIR

A small CNN with a Dropout, exported from PyTorch with
torch.onnx.TrainingMode.PRESERVE (training_mode = true), is compiled with
`nncc --train --augment=x:hflip,crop=2,contrast=0.2` and trained by
`nncc-run --train`. Checks:
  - determinism: the same seed and steps give byte-identical weights files
    across two runs and with NNCC_THREADS=1 vs 2; another --seed differs;
  - resume: 2 steps, save, then 2 more from the file in a new process equal
    4 uninterrupted steps bit for bit (dropout and augmentation on), and the
    seed travels in the file;
  - augmentation against numpy: --augment-output exposes augment.x; its
    random decisions come from a Philox 4x32-10 written here in Python from
    the documented definition, and flips and crops must equal numpy's
    permutation/shift of the input exactly (contrast within 1e-6);
  - the same PRESERVE model compiled for inference is the identity at the
    Dropout (its output equals PyTorch's eval-mode output);
  - usage errors exit 2 and leave no output file.
"""
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

N, C, H, W = 16, 3, 32, 32  # big enough that the random kernels run on several threads
SHAPE = f"x={N},{C},{H},{W}"


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(C, 8, 3, padding=1)
        self.d = nn.Dropout(0.3)
        self.f = nn.Linear(8 * H * W, 5)

    def forward(self, x):
        return self.f(self.d(torch.relu(self.c(x))).flatten(1))


# --- Philox 4x32-10 and the element mapping (docs/training.md) ---------------
M32 = 0xFFFFFFFF


def philox(ctr, key):
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for r in range(10):
        if r:
            k0 = (k0 + 0x9E3779B9) & M32
            k1 = (k1 + 0xBB67AE85) & M32
        p0 = 0xD2511F53 * c0
        p1 = 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & M32, p1 & M32, ((p0 >> 32) ^ c3 ^ k1) & M32, p0 & M32
    return c0, c1, c2, c3


def uniform(seed, step, stream, i):
    out = philox((i >> 2, stream, step & M32, step >> 32), (seed & M32, seed >> 32))
    return np.float32(out[i & 3] >> 8) * np.float32(2.0 ** -24)


def expected_augment(x, seed, step, crop, contrast):
    """hflip, crop=crop[, contrast=contrast] on x [N, C, H, W] as nncc defines them."""
    n = x.shape[0]
    y = x.copy()
    for k in range(n):  # hflip: stream 0
        if uniform(seed, step, 0, k) < np.float32(0.5):
            y[k] = y[k][:, :, ::-1]
    p = crop
    yp = np.pad(y, ((0, 0), (0, 0), (p, p), (p, p)))
    out = np.empty_like(y)
    for k in range(n):  # crop: stream 1 rows, stream 2 columns
        oy = min(int(np.floor(uniform(seed, step, 1, k) * np.float32(2 * p + 1))), 2 * p)
        ox = min(int(np.floor(uniform(seed, step, 2, k) * np.float32(2 * p + 1))), 2 * p)
        out[k] = yp[k, :, oy:oy + H, ox:ox + W]
    if contrast is not None:  # stream 3
        for k in range(n):
            f = np.float32(1 - contrast) + np.float32(2 * contrast) * uniform(seed, step, 3, k)
            m = out[k].astype(np.float64).mean()
            out[k] = (m + f * (out[k] - m)).astype(np.float32)
    return out


def run(cmd, env=None, want=0):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != want:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {r.returncode}, expected {want}\n{r.stdout}{r.stderr}")
    return r


def check(cond, what):
    if not cond:
        sys.exit(f"FAIL: {what}")
    print(f"ok: {what}")


def same_file(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def st_tensor(path, name):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    import json
    hdr = json.loads(buf[8:8 + n])
    b, e = hdr[name]["data_offsets"]
    return hdr, buf[8 + n + b:8 + n + e]


def main():
    build = sys.argv[1]
    nncc, nrun = os.path.join(build, "nncc"), os.path.join(build, "nncc-run")
    torch.manual_seed(0)
    net = Net()
    x = torch.randn(N, C, H, W)
    with tempfile.TemporaryDirectory(prefix="nncc-rng-") as tmp:
        t = lambda f: os.path.join(tmp, f)
        torch.onnx.export(net.train(), x, t("net.onnx"), input_names=["x"], output_names=["y"],
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                          opset_version=13)
        np.save(t("x.npy"), x.numpy())
        np.save(t("label.npy"), np.arange(N, dtype=np.int64) % 5)
        ins = ["-i", "x=" + t("x.npy"), "-i", "label=" + t("label.npy")]
        aug = "--augment=x:hflip,crop=2,contrast=0.2"
        run([nncc, t("net.onnx"), "--train", "--loss=cross_entropy", "--optimizer=sgd:lr=0.1,momentum=0.9",
             aug, "--shape", SHAPE, "-o", t("step.so")])
        env = dict(os.environ)
        kern = run([nncc, t("net.onnx"), "--train", "--loss=cross_entropy", aug, "--shape", SHAPE,
                    "--emit=kernels"]).stdout
        par = [l for l in kern.splitlines() if "random(" in l and "parallel(" in l]
        check(len(par) > 0, "the dropout mask kernel is split across threads (so the thread check means something)")

        def steps(n, out, threads=None, extra=()):
            e = dict(env)
            if threads:
                e["NNCC_THREADS"] = str(threads)
            return run([nrun, t("step.so"), "--train", str(n)] + ins + ["--save-weights", out] + list(extra), env=e)

        # determinism: runs, threads, seeds
        steps(3, t("a.st"), extra=["--seed", "12345"])
        steps(3, t("b.st"), extra=["--seed", "12345"])
        check(same_file(t("a.st"), t("b.st")), "two runs, same seed: byte-identical weights")
        steps(3, t("t1.st"), threads=1, extra=["--seed", "12345"])
        steps(3, t("t2.st"), threads=2, extra=["--seed", "12345"])
        check(same_file(t("t1.st"), t("a.st")) and same_file(t("t2.st"), t("a.st")),
              "NNCC_THREADS=1 and 2: byte-identical weights")
        steps(3, t("s.st"), extra=["--seed", "12346"])
        check(not same_file(t("s.st"), t("a.st")), "another seed: other weights")
        hdr, seed = st_tensor(t("a.st"), "seed")
        check(hdr["__metadata__"]["seed"] == "12345" and struct.unpack("<q", seed)[0] == 12345,
              "the seed is saved (metadata and state)")

        # resume with dropout and augmentation on
        steps(4, t("full.st"), extra=["--seed", "99"])
        steps(2, t("half.st"), extra=["--seed", "99"])
        run([nrun, t("step.so"), "--train", "2"] + ins + ["--load-weights", t("half.st"),
                                                           "--save-weights", t("resumed.st")])
        check(same_file(t("full.st"), t("resumed.st")), "2 + 2 resumed steps == 4 steps, bit for bit")

        # augmentation against numpy (step 0, so the first step's draws)
        xs = x.numpy()
        for spec, contrast in (("hflip,crop=2", None), ("hflip,crop=2,contrast=0.2", 0.2)):
            so = t("aug.so")
            run([nncc, t("net.onnx"), "--train", "--loss=cross_entropy", "--augment=x:" + spec,
                 "--augment-output", "--shape", SHAPE, "-o", so])
            for seed in (0, 5, 77):
                od = t(f"o{seed}")
                os.makedirs(od, exist_ok=True)
                run([nrun, so, "--train", "1"] + ins + ["--seed", str(seed), "-o", od])
                got = np.load(os.path.join(od, "augment.x.npy"))
                want = expected_augment(xs, seed, 0, 2, contrast)
                if contrast is None:
                    ok = np.array_equal(got, want)
                else:
                    ok = np.allclose(got, want, rtol=1e-6, atol=1e-6)
                check(ok, f"--augment=x:{spec} seed {seed}: augment.x equals numpy"
                      + (" exactly" if contrast is None else " (1e-6)"))
        # the checks above saw both flip outcomes and more than one crop offset
        flips = {bool(uniform(sd, 0, 0, k) < 0.5) for sd in (0, 5, 77) for k in range(N)}
        offs = {min(int(np.floor(uniform(sd, 0, 1, k) * np.float32(5))), 4) for sd in (0, 5, 77) for k in range(N)}
        check(flips == {False, True} and len(offs) > 1, "flipped and unflipped samples, several offsets")

        # inference: the PRESERVE model's Dropout is the identity
        run([nncc, t("net.onnx"), "-o", t("inf.so")])
        run([nrun, t("inf.so"), "-i", "x=" + t("x.npy"), "-o", tmp])
        got = np.load(t("y.npy"))
        with torch.no_grad():
            ref = net.eval()(x).numpy()
        check(np.allclose(got, ref, rtol=1e-5, atol=1e-5), "inference compile: Dropout is the identity")

        # usage errors: exit 2, nothing left behind
        for args in (["--train", "--loss=mse", "--augment=x:flip"],
                     ["--train", "--loss=mse", "--augment=x:crop=0"],
                     ["--augment=x:hflip"],
                     ["--train", "--loss=mse", "--augment=nope:hflip"],
                     ["--train", "--loss=mse", "--augment-output"]):
            out = t("bad.so")
            r = run([nncc, t("net.onnx")] + args + ["--shape", SHAPE, "-o", out], want=2)
            check(not os.path.exists(out) and "augment" in r.stderr, f"usage error {args[-1]}: exit 2")
        mlp = nn.Sequential(nn.Linear(6, 3))
        torch.onnx.export(mlp, torch.randn(2, 6), t("mlp.onnx"), input_names=["x"], output_names=["y"])
        r = run([nncc, t("mlp.onnx"), "--train", "--loss=mse", "--augment=x:hflip", "-o", t("bad.so")], want=2)
        check("NCHW" in r.stderr and not os.path.exists(t("bad.so")), "augment on a non-NCHW input: exit 2")
    print("PASS: rng e2e")


if __name__ == "__main__":
    main()
