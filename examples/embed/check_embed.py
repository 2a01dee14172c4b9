"""check_embed.py EMBED BUILD SRC — examples/embed against nncc-run.

Runs fashion_embed on test images 0..4 and on image 3 written as a PGM, and
checks its ten logits equal (exactly) those nncc-run computes with the same
model compiled as a .so by BUILD/nncc from the same normalized image, and
that the predicted class is their argmax.
"""
import gzip
import os
import subprocess
import sys
import tempfile

import numpy as np

embed, build, src = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
DATA = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]
with gzip.open(os.path.join(DATA, "t10k-images-idx3-ubyte.gz")) as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
with gzip.open(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz")) as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8)
bad = 0
with tempfile.TemporaryDirectory() as t:
    so = os.path.join(t, "f.so")
    subprocess.run([os.path.join(build, "nncc"), os.path.join(src, "examples", "fashion_cnn.onnx"),
                    "--shape", "input=1,1,28,28", "-o", so], check=True)
    with open(os.path.join(t, "img3.pgm"), "wb") as f:
        f.write(b"P5\n28 28\n255\n" + images[3].tobytes())
    for arg, i in [(str(k), k) for k in range(5)] + [(os.path.join(t, "img3.pgm"), 3)]:
        x = ((images[i].astype(np.float32) / np.float32(255) - np.float32(0.2860)) / np.float32(0.3530))
        np.save(os.path.join(t, "x.npy"), x.reshape(1, 1, 28, 28))
        subprocess.run([os.path.join(build, "nncc-run"), so, "-i", os.path.join(t, "x.npy"), "-o",
                        os.path.join(t, "out")], check=True, stdout=subprocess.DEVNULL)
        want = np.load(os.path.join(t, "out", os.listdir(os.path.join(t, "out"))[0])).ravel()
        out = subprocess.run([embed, arg], check=True, stdout=subprocess.PIPE, text=True).stdout
        lines = out.splitlines()
        got = np.array([np.float32(v) for v in lines[1].split()[1:]], np.float32)
        pred = CLASSES[int(np.argmax(want))]
        ok = np.array_equal(got, want) and ("predicted %s" % pred) in lines[0]
        if not arg.endswith(".pgm"):
            ok = ok and ("true %s" % CLASSES[labels[i]]) in lines[0]
        print("%s %s" % ("ok  " if ok else "FAIL", lines[0]))
        bad += 0 if ok else 1
sys.exit(1 if bad else 0)
