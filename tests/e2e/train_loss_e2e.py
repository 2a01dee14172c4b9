"""The losses the generative examples need, against PyTorch: train_loss_e2e.py BUILD_DIR

- `--loss=backprop`: loss = sum(out * label), so the step's gradient w.r.t.
  the output is the label; two SGD+momentum steps of an MLP must match
  PyTorch's `out.backward(label)` steps.
- `--add-loss=kl`: the model's second output, a scalar written in its own
  ops (a VAE-style KL term over an activation), added to an MSE loss; two
  Adam steps must match PyTorch's mse + kl.
- the errors: an unknown or non-scalar --add-loss output, --add-loss
  without --train, --mutable-weights with --train.
Losses and parameters within 1e-4 relative (train_e2e.py's bound).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_e2e import close, read_safetensors, run  # noqa: E402

STEPS = 2


class TwoOut(nn.Module):
    """y = fc2(tanh(fc1 x)); kl = 0.5 * mean(h^2 - log(h^2 + 1e-2) - 1), h = fc1 x."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        h = self.fc1(x)
        kl = 0.5 * torch.mean(h * h - torch.log(h * h + 1e-2) - 1)
        return self.fc2(torch.tanh(h)), kl


def steps(build, tmp, name, model, x, label, flags, loss_fn, opt):
    onnx_path = os.path.join(tmp, name + ".onnx")
    outs = ["y", "kl"] if isinstance(model, TwoOut) else ["y"]
    torch.onnx.export(model, (x,), onnx_path, input_names=["x"], output_names=outs,
                      do_constant_folding=False)
    np.save(os.path.join(tmp, "x.npy"), x.numpy())
    np.save(os.path.join(tmp, "label.npy"), label.numpy())
    so = os.path.join(tmp, name + ".so")
    run([os.path.join(build, "nncc"), onnx_path, "--train", "-o", so] + flags)
    w = os.path.join(tmp, name + ".safetensors")
    out = run([os.path.join(build, "nncc-run"), so, "--train", str(STEPS), "-i",
               "x=" + os.path.join(tmp, "x.npy"), "-i", "label=" + os.path.join(tmp, "label.npy"),
               "--save-weights", w])
    losses = [float(line.split()[3]) for line in out.splitlines() if line.startswith("step ")]
    ref = []
    for _ in range(STEPS):
        opt.zero_grad()
        lv = loss_fn(model(x), label)
        ref.append(lv.item())
        lv.backward()
        opt.step()
    worst = close(losses, ref, name + ": losses")
    got, _ = read_safetensors(w)
    for n, p in model.named_parameters():
        worst = max(worst, close(got[n], p.detach().numpy(), f"{name}: {n}"))
    print(f"PASS {name}: {STEPS} steps, max error {worst:.3g}")


def expect_error(cmd, rc, text):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != rc or text not in r.stderr:
        sys.exit(f"FAIL: {' '.join(cmd)}: exit {r.returncode} (want {rc}), stderr lacks "
                 f"'{text}':\n{r.stderr}")


def main():
    build = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(5)
        g = nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Linear(10, 4), nn.Tanh())
        x, up = torch.randn(5, 6), torch.randn(5, 4)
        opt = torch.optim.SGD(g.parameters(), lr=0.1, momentum=0.9)
        steps(build, tmp, "backprop", g, x, up,
              ["--loss=backprop", "--optimizer=sgd:lr=0.1,momentum=0.9"],
              lambda out, lab: (out * lab).sum(), opt)

        torch.manual_seed(6)
        m = TwoOut()
        x, y = torch.randn(4, 6), torch.randn(4, 3)
        opt = torch.optim.Adam(m.parameters(), lr=0.01)
        steps(build, tmp, "add_loss", m, x, y, ["--loss=mse", "--add-loss=kl", "--optimizer=adam:lr=0.01"],
              lambda out, lab: nn.functional.mse_loss(out[0], lab) + out[1], opt)

        nncc, onnx_path = os.path.join(build, "nncc"), os.path.join(tmp, "add_loss.onnx")
        expect_error([nncc, onnx_path, "--train", "--loss=mse", "--add-loss=kk", "-o", "x.so"], 1,
                     "'kk' is not an output of the model")
        expect_error([nncc, onnx_path, "--train", "--loss=mse", "--add-loss=y", "-o", "x.so"], 1,
                     "'y' is not an output of the model")
        expect_error([nncc, onnx_path, "--add-loss=kl", "-o", "x.so"], 2, "need --train")
        expect_error([nncc, onnx_path, "--train", "--loss=mse", "--mutable-weights", "-o", "x.so"], 2,
                     "not with --train")
        print("PASS errors")


if __name__ == "__main__":
    main()
