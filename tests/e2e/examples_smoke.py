"""Smoke tests of the training examples: examples_smoke.py BUILD_DIR [--only NAME]...

Each example trains a few hundred steps on a subset of Fashion-MNIST (the
Debian dataset; the test is skipped with exit 77 when it is not installed)
and must end with its final line; the loss must have decreased: the mean
training loss of the last epoch below the first epoch's. The classifiers
must also beat chance clearly on the test subset. `resume` checks that a
run killed mid-epoch (SIGKILL after a step, between two checkpoints) and
resumed from its last checkpoint ends with the same accuracy and the same
parameters, bit for bit, as an uninterrupted run. `transfer` fine-tunes the
smoke LeNet's features on a 2-class task and must be ahead of the same
model trained from scratch after one epoch.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile

DATA = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
SUBSET = ["--limit-train", "3200", "--limit-test", "1000", "--threads", "2", "--quiet"]


def run(build, app, args, expect_rc=0):
    cmd = [os.path.join(build, app)] + args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode != expect_rc:
        sys.exit(f"FAIL: {' '.join(cmd)}: exit {p.returncode} (want {expect_rc})\n{p.stdout}{p.stderr}")
    return p.stdout


def final(out, key):
    lines = [l for l in out.splitlines() if l.startswith(key + "=")]
    if not lines or out.splitlines()[-1] != lines[-1]:
        sys.exit(f"FAIL: no final line {key}=...:\n{out}")
    return float(lines[-1].split("=", 1)[1])


def epochs(out_dir):
    with open(os.path.join(out_dir, "log.jsonl")) as f:
        return [r for r in map(json.loads, f) if "epoch" in r]


def loss_fell(name, out_dir, key="train_loss"):
    ep = epochs(out_dir)
    first, last = ep[0][key], ep[-1][key]
    print(f"{name}: {key} epoch 1 {first:.4f} -> epoch {len(ep)} {last:.4f}")
    if not last < first:
        sys.exit(f"FAIL: {name}: {key} did not decrease ({first} -> {last})")


def classifier(build, tmp, name, model_args, min_acc):
    out = os.path.join(tmp, name)
    stdout = run(build, "fashion_mnist", model_args + SUBSET + ["--epochs", "3", "--out", out])
    acc = final(stdout, "test_accuracy")
    loss_fell(name, out)
    print(f"{name}: test_accuracy {acc:.4f}")
    if acc < min_acc:
        sys.exit(f"FAIL: {name}: test accuracy {acc} below {min_acc}")


def check_png(path):
    """A valid 8-bit grey PNG (signature, IHDR, IDAT inflating to h rows) with some contrast."""
    import struct
    import zlib
    with open(path, "rb") as f:
        b = f.read()
    if b[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"FAIL: {path}: not a PNG")
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(b):
        n, kind = struct.unpack(">I4s", b[pos:pos + 8])
        data = b[pos + 8:pos + 8 + n]
        if zlib.crc32(kind + data) != struct.unpack(">I", b[pos + 8 + n:pos + 12 + n])[0]:
            sys.exit(f"FAIL: {path}: bad CRC in {kind}")
        if kind == b"IHDR":
            w, h = struct.unpack(">II", data[:8])
        elif kind == b"IDAT":
            idat += data
        pos += 12 + n
    raw = zlib.decompress(idat)
    if len(raw) != h * (w + 1):
        sys.exit(f"FAIL: {path}: {len(raw)} bytes of pixels for {w}x{h}")
    px = [raw[r * (w + 1) + 1 + c] for r in range(h) for c in range(w)]
    if max(px) - min(px) < 64:
        sys.exit(f"FAIL: {path}: almost uniform image")


def generative(build, tmp, name, app, args, pngs, key="train_loss"):
    out = os.path.join(tmp, name)
    stdout = run(build, app, args + SUBSET + ["--epochs", "2", "--out", out])
    loss = final(stdout, "test_loss")
    loss_fell(name, out, key)
    for p in pngs:
        check_png(os.path.join(out, p))
    print(f"{name}: test_loss {loss:.4f}; {', '.join(pngs)} written")


def transfer(build, tmp):
    ckpt = os.path.join(tmp, "lenet", "checkpoint.safetensors")
    if not os.path.exists(ckpt):
        classifier(build, tmp, "lenet", ["--model", "lenet"], 0.6)
    out = os.path.join(tmp, "transfer")
    stdout = run(build, "transfer", ["--from", ckpt, "--limit-train", "1280", "--limit-test", "2000",
                                     "--threads", "2", "--quiet", "--epochs", "2", "--out", out])
    acc = final(stdout, "test_accuracy")
    with open(os.path.join(out, "log.jsonl")) as f:
        rows = [json.loads(l) for l in f]
    ft = [r for r in rows if r["run"] == "finetune"]
    sc = [r for r in rows if r["run"] == "scratch"]
    print(f"transfer: after epoch 1 fine-tuned {ft[0]['test_accuracy']:.4f}, from scratch "
          f"{sc[0]['test_accuracy']:.4f}; final {acc:.4f}")
    if not ft[-1]["train_loss"] < ft[0]["train_loss"]:
        sys.exit("FAIL: transfer: the fine-tuned loss did not decrease")
    if not ft[0]["test_accuracy"] > sc[0]["test_accuracy"]:
        sys.exit("FAIL: transfer: fine-tuning is not ahead of training from scratch after one epoch")


def read_tensors(path):
    """safetensors -> {name: raw bytes}, and the metadata."""
    with open(path, "rb") as f:
        b = f.read()
    n = int.from_bytes(b[:8], "little")
    head = json.loads(b[8:8 + n])
    meta = head.pop("__metadata__", {})
    base = 8 + n
    return {k: b[base + v["data_offsets"][0]:base + v["data_offsets"][1]] for k, v in head.items()}, meta


def resume(build, tmp):
    common = ["--model", "mlp", "--act", "tanh"] + SUBSET + ["--epochs", "2", "--seed", "7"]
    a, b = os.path.join(tmp, "uninterrupted"), os.path.join(tmp, "killed")
    acc_a = final(run(build, "fashion_mnist", common + ["--out", a]), "test_accuracy")
    # 50 steps per epoch: killed at step 75 (epoch 2), last checkpoint at 60
    run(build, "fashion_mnist", common + ["--out", b, "--checkpoint-every", "30", "--kill-after", "75"],
        expect_rc=-signal.SIGKILL)
    ta, ma = read_tensors(os.path.join(a, "checkpoint.safetensors"))
    tb, mb = read_tensors(os.path.join(b, "checkpoint.safetensors"))
    if mb.get("step") != "60":
        sys.exit(f"FAIL: resume: the killed run's checkpoint is at step {mb.get('step')}, want 60")
    out = run(build, "fashion_mnist", common + ["--out", b, "--resume"])
    if "resumed at step 60" not in out:
        sys.exit(f"FAIL: resume: no 'resumed at step 60' line:\n{out}")
    acc_b = final(out, "test_accuracy")
    tb, mb = read_tensors(os.path.join(b, "checkpoint.safetensors"))
    if acc_a != acc_b or ma != mb or ta.keys() != tb.keys():
        sys.exit(f"FAIL: resume: accuracy {acc_a} vs {acc_b}, metadata {ma} vs {mb}")
    diff = [k for k in ta if ta[k] != tb[k]]
    if diff:
        sys.exit(f"FAIL: resume: tensors differ from the uninterrupted run: {diff}")
    print(f"resume: killed at step 75, resumed from 60: accuracy {acc_b:.4f} and {len(ta)} tensors "
          f"identical to the uninterrupted run")


TESTS = {
    "mlp_relu": lambda b, t: classifier(b, t, "mlp_relu", ["--model", "mlp", "--act", "relu"], 0.7),
    "mlp_sigmoid": lambda b, t: classifier(b, t, "mlp_sigmoid", ["--model", "mlp", "--act", "sigmoid"], 0.6),
    "lenet": lambda b, t: classifier(b, t, "lenet", ["--model", "lenet"], 0.6),
    "ae": lambda b, t: generative(b, t, "ae", "autoencoder", ["--model", "ae"], ["recon.png"]),
    "vae": lambda b, t: generative(b, t, "vae", "autoencoder", ["--model", "vae"],
                                   ["recon.png", "samples.png"]),
    "dcgan": lambda b, t: generative(b, t, "dcgan", "dcgan", [], ["samples.png"], "d_loss"),
    "transfer": transfer,
    "resume": resume,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--only", action="append")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(DATA, "train-images-idx3-ubyte.gz")):
        print(f"SKIP: Fashion-MNIST not found in {DATA}")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or TESTS:
            TESTS[name](args.build, tmp)
    print("OK")


if __name__ == "__main__":
    main()
