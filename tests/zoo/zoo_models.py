"""The model zoo: every model of the course as a PyTorch module, exported to
ONNX with PyTorch's own output next to it.

    zoo_models.py OUTDIR [--models a,b,...|--size small|large|all] [--batch N] [--force] [--list]

For each model NAME it writes OUTDIR/NAME/model.onnx, one IN.npy per graph
input (a fixed random input), one ref_OUT.npy per graph output (PyTorch's
output for that input, computed in float64: see export()) and meta.json
(input and output names, the largest reference magnitude and PyTorch's own
float32 error per output). run_zoo.py
compiles the model with nncc, runs it with nncc-run and compares.

Every model is built from a fixed seed with random weights (nothing is
downloaded), put in eval mode and exported by torch.onnx.export at opset 13
with constant folding. BatchNorm layers get random affine parameters and
running statistics that matter: the small models draw them at random, the
torchvision CNNs measure them on a random image (models.py's _calibrated), so
no BN is the identity. Models without BatchNorm whose activations would fade
with depth get their layers rescaled on a random input (_rescaled), so the
outputs are of order 1 and the tolerance means something. A model is
exported again only when this script or tests/e2e/models.py (whose models
and helpers it reuses) is newer than its model.onnx, or with --force.

--batch N exports every model with batch N instead of its own (B = 2 for
the small models, 1 for the ImageNet-size ones): the benchmark
(bench/bench.py) uses it with its own OUTDIR; the tests never pass it, so
what they get does not change. The weights do not depend on the batch (the
calibration inputs of _calibrated and _rescaled keep their shapes); the
random input is drawn for the new shape, from the same seed.

"small" models are fast enough for `make test` (see tests/zoo.cmake for the
ones registered there); "large" ones run in `make test-models` only.
"""
import argparse
import copy
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import make_models  # noqa: E402  (describe)
import models as e2e  # noqa: E402  (MLP, LeNet, _calibrated, _atomic_save_npy)
from zoo_files import model_dir, up_to_date  # noqa: E402

OPSET = 13
B = 2          # batch of the small models
T = 6          # sequence length of the sequence models
FEAT = 10      # features per time step
HID = 16       # hidden size of the recurrent layers
CLASSES = 4    # classes of the sequence classifiers
VOCAB = 30     # vocabulary of the token models


def randomize_bn(model, stats=True):
    """Random affine parameters for every BatchNorm (and random running
    statistics when stats): gamma in [0.5, 1.5], beta in [-0.5, 0.5], mean
    N(0, 0.5^2), variance in [0.5, 2]. Draws from torch's seeded generator."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                if stats:
                    m.running_mean.normal_(0.0, 0.5)
                    m.running_var.uniform_(0.5, 2.0)
    return model


# --- sequence models ------------------------------------------------------
class LSTMClassifier(nn.Module):
    """x [B, T, FEAT] -> 2-layer LSTM (batch_first) -> last step -> Linear."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(FEAT, HID, num_layers=2, batch_first=True)
        self.fc = nn.Linear(HID, CLASSES)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


class GRUClassifier(nn.Module):
    """tokens [B, T] (int64) -> Embedding -> 2-layer GRU -> last layer's
    final state -> Linear."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, FEAT)
        self.rnn = nn.GRU(FEAT, HID, num_layers=2, batch_first=True)
        self.fc = nn.Linear(HID, CLASSES)

    def forward(self, tokens):
        _, h = self.rnn(self.emb(tokens))
        return self.fc(h[-1])


class RNNClassifier(nn.Module):
    """x [B, T, FEAT] -> 2-layer tanh RNN -> mean over time -> Linear."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(FEAT, HID, num_layers=2, nonlinearity="tanh", batch_first=True)
        self.fc = nn.Linear(HID, CLASSES)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out.mean(dim=1))


class BiLSTMClassifier(nn.Module):
    """x [T, B, FEAT] (time first) -> bidirectional LSTM -> the forward
    direction's last step and the backward direction's first step -> Linear."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(FEAT, HID, bidirectional=True)
        self.fc = nn.Linear(2 * HID, CLASSES)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(torch.cat([out[-1, :, :HID], out[0, :, HID:]], dim=1))


class CaptionStep(nn.Module):
    """One step of a CNN+LSTM captioning decoder: a small CNN encodes the
    image, its feature and the previous word's embedding feed one LSTM step
    from state (h, c); outputs the next word's logits and the new state."""

    def __init__(self):
        super().__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.proj = nn.Linear(16, FEAT)
        self.emb = nn.Embedding(VOCAB, FEAT)
        self.lstm = nn.LSTM(2 * FEAT, HID)
        self.out = nn.Linear(HID, VOCAB)

    def forward(self, image, word, h0, c0):
        x = torch.cat([torch.relu(self.proj(self.cnn(image))), self.emb(word)], dim=1)
        y, (h1, c1) = self.lstm(x.unsqueeze(0), (h0, c0))
        return self.out(y[0]), h1, c1


# --- generative models ---------------------------------------------------
class ConvAutoencoder(nn.Module):
    """[B, 1, 28, 28] -> two stride-2 convs (7x7) -> two stride-2
    ConvTransposes (one with BatchNorm) -> Sigmoid, back to 28x28."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1),
            nn.BatchNorm2d(8), nn.ReLU(),
            nn.ConvTranspose2d(8, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())

    def forward(self, x):
        return self.dec(self.enc(x))


class VAE(nn.Module):
    """784 -> 128 -> (mu, logvar) of 16; z = mu + eps * exp(logvar / 2) with
    the noise eps a model input; 16 -> 128 -> 784 Sigmoid. Outputs the
    reconstruction, mu and logvar."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(784, 128)
        self.mu = nn.Linear(128, 16)
        self.logvar = nn.Linear(128, 16)
        self.dec1 = nn.Linear(16, 128)
        self.dec2 = nn.Linear(128, 784)

    def forward(self, x, eps):
        h = torch.relu(self.enc(x))
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + eps * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.dec2(torch.relu(self.dec1(z)))), mu, logvar


NZ, NGF, NDF = 32, 16, 16  # DCGAN sizes (scaled down from 100, 64, 64)


class DCGANGenerator(nn.Module):
    """z [B, NZ, 1, 1] -> ConvTranspose/BatchNorm/ReLU x3 -> ConvTranspose
    -> Tanh: a 3x32x32 image."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.ConvTranspose2d(NZ, NGF * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(NGF * 4),
            nn.ReLU(),
            nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF * 2),
            nn.ReLU(),
            nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False), nn.BatchNorm2d(NGF), nn.ReLU(),
            nn.ConvTranspose2d(NGF, 3, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z):
        return self.net(z)


class DCGANDiscriminator(nn.Module):
    """[B, 3, 32, 32] -> Conv/LeakyReLU, Conv/BatchNorm/LeakyReLU x2 -> Conv
    -> Sigmoid: [B, 1, 1, 1]."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
            nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 2),
            nn.LeakyReLU(0.2),
            nn.Conv2d(NDF * 2, NDF * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(NDF * 4),
            nn.LeakyReLU(0.2),
            nn.Conv2d(NDF * 4, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, x):
        return self.net(x)


# --- torchvision CNNs ------------------------------------------------------
def _tv(path, **kwargs):
    """A torchvision model (path: 'resnet18' or 'segmentation.fcn_resnet50')
    with random weights, random BatchNorm affine parameters and running
    statistics measured on a random image (see e2e.models._calibrated)."""
    def build():
        import torchvision.models
        obj = torchvision.models
        for part in path.split("."):
            obj = getattr(obj, part)
        return randomize_bn(obj(**kwargs), stats=False)
    return e2e._calibrated(build)


class SegmentationOut(nn.Module):
    """torchvision's segmentation models return a dict; export its 'out'."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)["out"]


def _fcn_resnet50():
    inner = _tv("segmentation.fcn_resnet50", weights=None, weights_backbone=None,
                num_classes=21, aux_loss=False)()
    return SegmentationOut(inner).eval()


def _rescaled(ctor, shape):
    """A constructor for a model without BatchNorm whose Conv and Linear
    layers are rescaled so each one's output has unit standard deviation on
    one random input of the given shape (a data-dependent init in the manner
    of LSUV). With default random init the activations of LeNet, AlexNet,
    VGG and SqueezeNet shrink layer by layer and their logits end near 1e-2,
    where an absolute tolerance of 1e-4 checks little. One forward pass with
    a hook per layer divides its weight and bias by its output's std and
    hands the rescaled output on, so later layers see their final inputs."""
    def hook(m, inp, out):
        s = out.std()
        m.weight /= s
        if m.bias is not None:
            m.bias /= s
        return out / s

    def build():
        model = ctor().eval()
        hooks = [m.register_forward_hook(hook) for m in model.modules()
                 if isinstance(m, (nn.Conv2d, nn.Linear))]
        with torch.no_grad():
            model(torch.randn(shape))
        for h in hooks:
            h.remove()
        return model
    return build


def _plain(ctor):
    """A constructor with the small models' random BatchNorm statistics."""
    return lambda: randomize_bn(ctor())


IMAGE = (1, 3, 224, 224)

# name -> dict(ctor, inputs [(name, shape, dtype)], outputs [names], seed, size
#              [, batch_axes])
#   dtype "f32": standard normal; "i64:N": integers in [0, N).
#   batch_axes: the batch axis of each input (default 0 for all), for --batch.
ZOO = {
    "mlp": dict(ctor=e2e.MLP, inputs=[("input", (B, 784), "f32")], outputs=["output"],
                seed=101, size="small"),
    "lenet": dict(ctor=_rescaled(e2e.LeNet, (B, 1, 28, 28)),
                  inputs=[("input", (B, 1, 28, 28), "f32")], outputs=["output"], seed=102,
                  size="small"),
    "lstm": dict(ctor=LSTMClassifier, inputs=[("input", (B, T, FEAT), "f32")],
                 outputs=["output"], seed=103, size="small"),
    "gru": dict(ctor=GRUClassifier, inputs=[("tokens", (B, T), f"i64:{VOCAB}")],
                outputs=["output"], seed=104, size="small"),
    "rnn": dict(ctor=RNNClassifier, inputs=[("input", (B, T, FEAT), "f32")],
                outputs=["output"], seed=105, size="small"),
    "bilstm": dict(ctor=BiLSTMClassifier, inputs=[("input", (T, B, FEAT), "f32")],
                   outputs=["output"], seed=106, size="small", batch_axes=[1]),
    "autoencoder": dict(ctor=_plain(ConvAutoencoder), inputs=[("input", (B, 1, 28, 28), "f32")],
                        outputs=["output"], seed=107, size="small"),
    "vae": dict(ctor=VAE, inputs=[("input", (B, 784), "f32"), ("eps", (B, 16), "f32")],
                outputs=["recon", "mu", "logvar"], seed=108, size="small"),
    "dcgan_g": dict(ctor=_plain(DCGANGenerator), inputs=[("z", (B, NZ, 1, 1), "f32")],
                    outputs=["output"], seed=109, size="small"),
    "dcgan_d": dict(ctor=_plain(DCGANDiscriminator), inputs=[("input", (B, 3, 32, 32), "f32")],
                    outputs=["output"], seed=110, size="small"),
    "caption": dict(ctor=_plain(CaptionStep),
                    inputs=[("image", (B, 3, 16, 16), "f32"), ("word", (B,), f"i64:{VOCAB}"),
                            ("h0", (1, B, HID), "f32"), ("c0", (1, B, HID), "f32")],
                    outputs=["logits", "h1", "c1"], seed=111, size="small",
                    batch_axes=[0, 0, 1, 1]),
    "squeezenet": dict(ctor=_rescaled(_tv("squeezenet1_1"), (1, 3, 64, 64)),
                       inputs=[("input", (1, 3, 64, 64), "f32")], outputs=["output"], seed=112,
                       size="small"),
    "alexnet": dict(ctor=_rescaled(_tv("alexnet"), IMAGE), inputs=[("input", IMAGE, "f32")],
                    outputs=["output"], seed=201, size="large"),
    "vgg11": dict(ctor=_rescaled(_tv("vgg11"), IMAGE), inputs=[("input", IMAGE, "f32")],
                  outputs=["output"], seed=202, size="large"),
    "googlenet": dict(ctor=_tv("googlenet", aux_logits=False, transform_input=False,
                               init_weights=True),
                      inputs=[("input", IMAGE, "f32")], outputs=["output"], seed=203,
                      size="large"),
    "resnet18": dict(ctor=_tv("resnet18"), inputs=[("input", IMAGE, "f32")], outputs=["output"],
                     seed=204, size="large"),
    "resnet50": dict(ctor=_tv("resnet50"), inputs=[("input", IMAGE, "f32")], outputs=["output"],
                     seed=205, size="large"),
    "mobilenet_v2": dict(ctor=_tv("mobilenet_v2"), inputs=[("input", IMAGE, "f32")],
                         outputs=["output"], seed=206, size="large"),
    "fcn_resnet50": dict(ctor=_fcn_resnet50, inputs=[("input", (1, 3, 128, 128), "f32")],
                         outputs=["output"], seed=207, size="large"),
}


def names(size="all"):
    return [n for n, s in ZOO.items() if size == "all" or s["size"] == size]


def inputs(name, batch=None):
    """The model's [(input name, shape, dtype)]; with batch, each shape's
    batch axis (the spec's batch_axes, default 0) set to batch."""
    spec = ZOO[name]
    if batch is None:
        return list(spec["inputs"])
    axes = spec.get("batch_axes", [0] * len(spec["inputs"]))
    out = []
    for (iname, shape, dt), ax in zip(spec["inputs"], axes):
        shape = list(shape)
        shape[ax] = batch
        out.append((iname, tuple(shape), dt))
    return out


def build(name):
    """The eager model exactly as export() builds it (the spec's seed, eval
    mode): the same weights as the exported model.onnx."""
    spec = ZOO[name]
    torch.manual_seed(spec["seed"])
    return spec["ctor"]().eval()


def make_input(shape, dtype, rng):
    if dtype == "f32":
        return rng.standard_normal(shape).astype(np.float32)
    if dtype.startswith("i64:"):
        return rng.integers(0, int(dtype[4:]), size=shape, dtype=np.int64)
    raise ValueError(f"unknown input dtype {dtype}")


def _outputs(model, args, n, name):
    with torch.no_grad():
        out = model(*args)
    out = (out,) if isinstance(out, torch.Tensor) else tuple(out)
    if len(out) != n:
        raise RuntimeError(f"{name}: {len(out)} outputs, the spec names {n}")
    return [o.numpy() for o in out]


def export(name, outdir, batch=None):
    """Write OUTDIR/NAME/{model.onnx, IN.npy..., ref_OUT.npy...,
    torch32_OUT.npy..., meta.json}; with batch, for inputs of that batch
    (inputs()) instead of the spec's.

    The reference ref_OUT is PyTorch's output in float64 (a copy of the
    model cast to double, on the same float32 weights and inputs), rounded
    to float32: the exact answer, so the comparison measures nncc's own
    rounding and not PyTorch's too. PyTorch's float32 output is kept as
    torch32_OUT, and its distance to the reference goes into meta.json, to
    show the noise level a float32 implementation has on that model.
    Files are written under temporary names and renamed, model.onnx last, so
    a concurrent reader never sees a partial export."""
    spec = ZOO[name]
    model = build(name)
    rng = np.random.default_rng(spec["seed"])
    xs = [make_input(shape, dt, rng) for _, shape, dt in inputs(name, batch)]
    targs = tuple(torch.from_numpy(x) for x in xs)
    nout = len(spec["outputs"])
    out32 = _outputs(model, targs, nout, name)
    model64 = copy.deepcopy(model).double()
    out64 = _outputs(model64, tuple(t.double() if t.is_floating_point() else t for t in targs),
                     nout, name)

    d = model_dir(outdir, name)
    os.makedirs(d, exist_ok=True)
    tmp_onnx = os.path.join(d, f"model.onnx.tmp.{os.getpid()}")
    torch.onnx.export(model, targs, tmp_onnx, opset_version=OPSET, do_constant_folding=True,
                      input_names=[n for n, _, _ in spec["inputs"]],
                      output_names=spec["outputs"])
    for (iname, _, _), x in zip(spec["inputs"], xs):
        e2e._atomic_save_npy(os.path.join(d, f"{iname}.npy"), x)
    absmax, torch32_err = {}, {}
    for oname, r32, r64 in zip(spec["outputs"], out32, out64):
        e2e._atomic_save_npy(os.path.join(d, f"ref_{oname}.npy"), r64.astype(r32.dtype))
        e2e._atomic_save_npy(os.path.join(d, f"torch32_{oname}.npy"), r32)
        absmax[oname] = float(np.abs(r64).max())
        torch32_err[oname] = float(np.abs(r32.astype(np.float64) - r64).max())
    meta = dict(inputs=[n for n, _, _ in spec["inputs"]], outputs=spec["outputs"],
                ref_absmax=absmax, torch32_err=torch32_err, opset=OPSET,
                shapes={n: list(x.shape) for (n, _, _), x in zip(spec["inputs"], xs)})
    tmp_meta = os.path.join(d, f"meta.json.tmp.{os.getpid()}")
    with open(tmp_meta, "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(tmp_meta, os.path.join(d, "meta.json"))
    os.replace(tmp_onnx, os.path.join(d, "model.onnx"))
    return os.path.join(d, "model.onnx")


def ensure(outdir, todo, force=False, log=print, batch=None):
    """Export the models of todo that are not up to date (with batch: at
    that batch, see export()); returns {name: error message} for those
    whose export failed. One OUTDIR holds one batch: give each batch its own."""
    errors = {}
    torch.set_num_threads(1)
    for name in todo:
        if not force and up_to_date(outdir, name):
            continue
        try:
            path = export(name, outdir, batch)
            log(f"zoo: exported {path} ({make_models.describe(path)})")
        except Exception as e:  # noqa: BLE001 - reported per model
            errors[name] = f"export failed: {type(e).__name__}: {e}"
            log(f"zoo: {name}: {errors[name]}")
    return errors


def main():
    ap = argparse.ArgumentParser(description="export nncc's model zoo")
    ap.add_argument("outdir")
    ap.add_argument("--models", help="comma-separated subset of: " + ", ".join(ZOO))
    ap.add_argument("--size", choices=["small", "large", "all"], default="all")
    ap.add_argument("--batch", type=int, default=None,
                    help="export at this batch instead of each model's own (use a separate OUTDIR)")
    ap.add_argument("--force", action="store_true", help="export even if up to date")
    ap.add_argument("--list", action="store_true", help="print the model names and exit")
    args = ap.parse_args()
    todo = args.models.split(",") if args.models else names(args.size)
    unknown = [n for n in todo if n not in ZOO]
    if unknown:
        ap.error(f"unknown model(s) {unknown}; known: {', '.join(ZOO)}")
    if args.list:
        print("\n".join(todo))
        return 0
    if args.batch is not None and args.batch < 1:
        ap.error("--batch wants N >= 1")
    errors = ensure(args.outdir, todo, args.force, batch=args.batch)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
