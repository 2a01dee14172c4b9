"""Exports the untrained models of the Fashion-MNIST training examples to ONNX:
export_models.py OUT_DIR

  mlp_sigmoid.onnx, mlp_tanh.onnx, mlp_relu.onnx  784-256-128-10 MLPs
  lenet.onnx, lenet_eval.onnx                       LeNet-style CNN (training
                                                    and inference exports)

Input `x: f32[N, 1, 28, 28]` (normalized pixels), output `logits: f32[N, 10]`,
the batch dimension symbolic (nncc --shape binds it). Initializers keep the
module's parameter names (`fc1.weight`, ...), which the examples' checkpoints
and the transfer-learning example use. PyTorch's default initialization with
torch.manual_seed(0): the same files on every run.

LENET_DROPOUT is the one switch for LeNet's dropout: 0 exports no Dropout
node; > 0 exports nn.Dropout in torch.onnx.TrainingMode.PRESERVE so that
`nncc --train` applies it (needs the rng helper's dropout support; the
training flags that go with it are in examples/CMakeLists.txt,
NNCC_LENET_TRAIN_FLAGS).
"""
import os
import sys

import torch
import torch.nn as nn

LENET_DROPOUT = 0.0


class MLP(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 10)
        self.act = {"sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(), "relu": nn.ReLU()}[act]

    def forward(self, x):
        h = torch.flatten(x, 1)
        h = self.act(self.fc1(h))
        h = self.act(self.fc2(h))
        return self.fc3(h)


class LeNet(nn.Module):
    """conv5x5(16, pad 2) relu maxpool, conv5x5(32) relu maxpool, fc 800-120-84-10."""

    def __init__(self, dropout=LENET_DROPOUT):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)
        self.conv2 = nn.Conv2d(16, 32, 5)
        self.fc1 = nn.Linear(32 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x):
        h = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        h = nn.functional.max_pool2d(torch.relu(self.conv2(h)), 2)
        h = torch.flatten(h, 1)
        h = self.drop(torch.relu(self.fc1(h)))
        h = self.drop(torch.relu(self.fc2(h)))
        return self.fc3(h)


def models():
    out = {}
    for act in ("sigmoid", "tanh", "relu"):
        torch.manual_seed(0)
        out["mlp_" + act] = MLP(act)
    torch.manual_seed(0)
    out["lenet"] = LeNet()
    return out


def export(model, path, train_mode=False):
    x = torch.zeros(2, 1, 28, 28)
    mode = torch.onnx.TrainingMode.PRESERVE if train_mode else torch.onnx.TrainingMode.EVAL
    model.train(train_mode)
    torch.onnx.export(model, x, path, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}},
                      opset_version=13, training=mode, do_constant_folding=False)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: export_models.py OUT_DIR")
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, m in models().items():
        path = os.path.join(sys.argv[1], name + ".onnx")
        export(m, path, train_mode=name == "lenet" and LENET_DROPOUT > 0)
        if name == "lenet":  # the inference export (eval mode: dropout is the identity)
            export(m, os.path.join(sys.argv[1], name + "_eval.onnx"))


if __name__ == "__main__":
    main()
