"""The small CNN that the nncc demo compiles (Fashion-MNIST, 28x28 grey), and
the idx-file loader (gzip + numpy) with the normalization it was trained with.

Shared by train_fashion.py (training and ONNX export) and demo_eval.py
(test data for nncc, PyTorch's own accuracy for the shipped weights).
About 106k parameters.
"""
import gzip
import os
import struct

import numpy as np
import torch
import torch.nn as nn

DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
MEAN = 0.2860  # training-set pixel mean, pixels scaled to [0, 1]
STD = 0.3530   # and standard deviation
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


class FashionCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),                                   # 16x14x14
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),                                   # 32x7x7
        )
        self.classifier = nn.Sequential(
            nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Dropout(0.25),
            nn.Linear(64, 10),
        )

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)  # exports as ONNX Flatten(axis=1), batch stays symbolic
        return self.classifier(x)


def num_params(model):
    return sum(p.numel() for p in model.parameters())



def _read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise ValueError(f"{path}: too short for an idx file")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {np.prod(dims)} bytes of data, found {arr.size}")
    return arr.reshape(dims)


def load(split):
    """split: 'train' or 't10k'. Returns (images float32 [N,1,28,28] normalized, labels int64 [N])."""
    img_path = os.path.join(DATA_DIR, f"{split}-images-idx3-ubyte.gz")
    lbl_path = os.path.join(DATA_DIR, f"{split}-labels-idx1-ubyte.gz")
    for p in (img_path, lbl_path):
        if not os.path.exists(p):
            raise FileNotFoundError(f"missing Fashion-MNIST file {p} (set FASHION_MNIST_DIR)")
    images = _read_idx(img_path)
    labels = _read_idx(lbl_path).astype(np.int64)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{img_path}: {images.shape[0]} images but {labels.shape[0]} labels")
    x = (images.astype(np.float32) / 255.0 - MEAN) / STD
    return x.reshape(-1, 1, 28, 28).astype(np.float32), labels
