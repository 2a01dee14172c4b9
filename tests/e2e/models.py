"""PyTorch models for nncc's end-to-end tests, and their ONNX export.

Each model is built from a fixed seed, put in eval mode and exported with a
static batch (4 for the small models, 1 for the 224x224 CNNs; opset 13, input
"input", output "output"). Next to the .onnx file we write a fixed random input
and PyTorch's own output, which compare.py later checks nncc's output against.
The CNNs come from torchvision with random weights (nothing is downloaded).
"""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 4
OPSET = 13


class MLP(nn.Module):
    """784 -> 128 -> 64 -> 10, exercising LeakyRelu, Relu, Sigmoid, Tanh,
    Mul, Add and LogSoftmax on top of Gemm."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        h = F.leaky_relu(self.fc1(x), 0.1)
        h = self.fc2(h)
        h = torch.relu(h) * torch.sigmoid(h) + torch.tanh(h)
        return F.log_softmax(self.fc3(h), dim=1)


class LeNet(nn.Module):
    """LeNet-5 for 1x28x28 images: one max pool, one average pool, and a
    Dropout that must vanish in inference export."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)   # 6x28x28
        self.pool1 = nn.MaxPool2d(2)                 # 6x14x14
        self.conv2 = nn.Conv2d(6, 16, 5)             # 16x10x10
        self.pool2 = nn.AvgPool2d(2)                 # 16x5x5
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        x = self.pool1(torch.relu(self.conv1(x)))
        x = self.pool2(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = self.drop(torch.relu(self.fc1(x)))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


class LayerNormNet(nn.Module):
    """32 -> 64 -> LayerNorm(64) -> ReLU -> 10. At opset 13 the exporter
    writes LayerNorm as ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul,
    Add, which nncc fuses into one kernel. The norm's weight and bias are
    random so neither folds away."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(32, 64)
        self.norm = nn.LayerNorm(64)
        self.fc2 = nn.Linear(64, 10)
        nn.init.uniform_(self.norm.weight, 0.5, 1.5)
        nn.init.uniform_(self.norm.bias, -0.5, 0.5)

    def forward(self, x):
        return self.fc2(torch.relu(self.norm(self.fc1(x))))


IMAGE = (1, 3, 224, 224)


def _calibrated(build):
    """A constructor for a torchvision CNN whose BatchNorm running statistics
    are measured on one random image instead of left at mean 0, variance 1.

    With torchvision's random init the activations shrink or grow layer after
    layer, because nothing renormalizes them in eval mode: MobileNetV2's logits
    come out near 1e-9 (its depthwise convolutions get a Kaiming std computed
    from fan_out = 9*C instead of 9) and GoogLeNet's near 1e-2 (its convs are
    initialized with std 0.01), so an absolute tolerance of 1e-4 would accept
    almost anything. One forward pass with the BatchNorm layers in training
    mode and momentum=None (a cumulative average, so the running stats become
    exactly that batch's statistics) makes every BN normalize its input, and
    the logits land between about 0.1 and 3. The calibration image is drawn
    from the torch generator the caller has seeded, so it is deterministic and
    differs from the test input. PyTorch's exporter then folds each BN into its
    Conv (eval mode, do_constant_folding=True), with these non-trivial stats."""
    def ctor():
        model = build().eval()
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None
                m.train()
        with torch.no_grad():
            model(torch.randn(IMAGE))
        return model.eval()
    return ctor


def _torchvision(name, **kwargs):
    def build():
        import torchvision.models  # here, so the small models do not need it
        return getattr(torchvision.models, name)(**kwargs)
    return _calibrated(build)


# name -> (constructor, input shape, seed)
MODELS = {
    "mlp": (MLP, (BATCH, 784), 1),
    "lenet": (LeNet, (BATCH, 1, 28, 28), 2),
    "layernorm": (LayerNormNet, (BATCH, 32), 3),
    "resnet18": (_torchvision("resnet18"), IMAGE, 18),
    "resnet50": (_torchvision("resnet50"), IMAGE, 50),
    "googlenet": (_torchvision("googlenet", aux_logits=False, transform_input=False,
                               init_weights=True), IMAGE, 22),
    "mobilenet_v2": (_torchvision("mobilenet_v2"), IMAGE, 2),
}

# The four ImageNet CNNs of the optimization acceptance tests and the fusion table.
CNNS = ["resnet18", "resnet50", "googlenet", "mobilenet_v2"]


def _atomic_save_npy(path, arr):
    tmp = f"{path}.tmp.{os.getpid()}.npy"
    np.save(tmp, arr)
    os.replace(tmp, path)


def export(name, outdir):
    """Write OUTDIR/NAME.onnx, NAME.input.npy and NAME.ref.npy. Every file is
    written under a temporary name and renamed, so a concurrent reader never
    sees a partial file."""
    if name not in MODELS:
        raise KeyError(f"unknown model '{name}' (known: {', '.join(MODELS)})")
    ctor, shape, seed = MODELS[name]
    torch.manual_seed(seed)
    model = ctor().eval()
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy().astype(np.float32)

    os.makedirs(outdir, exist_ok=True)
    base = os.path.join(outdir, name)
    tmp_onnx = f"{base}.onnx.tmp.{os.getpid()}"
    torch.onnx.export(model, torch.from_numpy(x), tmp_onnx, opset_version=OPSET,
                      do_constant_folding=True, input_names=["input"],
                      output_names=["output"])
    _atomic_save_npy(base + ".input.npy", x)
    _atomic_save_npy(base + ".ref.npy", ref)
    os.replace(tmp_onnx, base + ".onnx")  # last: its presence means all three exist
    return base + ".onnx"
