"""Exports the untrained models of the Fashion-MNIST training examples to ONNX:
export_models.py OUT_DIR

  mlp_sigmoid.onnx, mlp_tanh.onnx, mlp_relu.onnx  784-256-128-10 MLPs
  lenet.onnx, lenet_eval.onnx                       LeNet-style CNN (training
                                                    and inference exports)
  lenet_tl.onnx                                     LeNet with a new 2-class head
  ae.onnx                                           convolutional autoencoder
  vae.onnx, vae_dec.onnx                            VAE (inputs x, eps; outputs
                                                    logits, kl) and its decoder
  gan_g.onnx, gan_d.onnx                            DCGAN generator (z -> image)
                                                    and discriminator (image -> logits)

Input `x: f32[N, 1, 28, 28]` (normalized pixels), output `logits: f32[N, 10]`,
the batch dimension symbolic (nncc --shape binds it). Initializers keep the
module's parameter names (`fc1.weight`, ...), which the examples' checkpoints
and the transfer-learning example use. PyTorch's default initialization with
torch.manual_seed(0): the same files on every run.

LENET_DROPOUT is the one switch for LeNet's dropout: 0 exports no Dropout
node; > 0 exports nn.Dropout in torch.onnx.TrainingMode.PRESERVE so that
`nncc --train` applies it (docs/training.md "Randomness"; the
training flags that go with it are in examples/examples.cmake,
NNCC_LENET_TRAIN_FLAGS).
"""
import os
import sys

import torch
import torch.nn as nn

LENET_DROPOUT = 0.2


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


class LeNetTransfer(LeNet):
    """LeNet with a new 2-class head `head` in place of fc3 (transfer learning:
    conv1, conv2, fc1, fc2 keep LeNet's names, so a LeNet checkpoint fills them)."""

    def __init__(self):
        super().__init__(dropout=0.0)
        del self.fc3
        self.head = nn.Linear(84, 2)

    def forward(self, x):
        h = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        h = nn.functional.max_pool2d(torch.relu(self.conv2(h)), 2)
        h = torch.flatten(h, 1)
        return self.head(torch.relu(self.fc2(torch.relu(self.fc1(h)))))


class Encoder(nn.Module):
    """[N, 1, 28, 28] -> [N, 16 * 7 * 7] (two stride-2 convolutions)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)

    def forward(self, x):
        return torch.flatten(torch.relu(self.conv2(torch.relu(self.conv1(x)))), 1)


class Decoder(nn.Module):
    """[N, LATENT] -> logits [N, 1, 28, 28] (two stride-2 transposed convolutions)."""

    def __init__(self, latent, out_act=None):
        super().__init__()
        self.fc = nn.Linear(latent, 16 * 7 * 7)
        self.deconv1 = nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1)
        self.deconv2 = nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1)

    def forward(self, z):
        h = torch.relu(self.fc(z)).reshape(-1, 16, 7, 7)
        return self.deconv2(torch.relu(self.deconv1(h)))


LATENT = 16


class AE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = Encoder()
        self.code = nn.Linear(16 * 7 * 7, LATENT)
        self.dec = Decoder(LATENT)

    def forward(self, x):
        return self.dec(self.code(self.enc(x)))


class VAE(nn.Module):
    """Outputs the reconstruction logits and `kl`, the KL divergence of
    q(z|x) from N(0, I) summed over the latent and divided by N * 784, so
    that bce_logits (a mean over pixels) + kl is the negative ELBO per
    pixel. The noise of the reparameterization is the input `eps`."""

    def __init__(self):
        super().__init__()
        self.enc = Encoder()
        self.mu = nn.Linear(16 * 7 * 7, LATENT)
        self.logvar = nn.Linear(16 * 7 * 7, LATENT)
        self.dec = Decoder(LATENT)

    def forward(self, x, eps):
        h = self.enc(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.exp(0.5 * logvar) * eps
        kl = -0.5 * torch.sum(1 + logvar - mu * mu - torch.exp(logvar)) / (x.shape[0] * 784)
        return self.dec(z), kl


class DecoderOnly(nn.Module):
    """The VAE's decoder alone, parameters named as in the VAE (dec.*)."""

    def __init__(self, dec):
        super().__init__()
        self.dec = dec

    def forward(self, z):
        return self.dec(z)


GAN_LATENT = 32


class Generator(nn.Module):
    """z [N, 32] -> image [N, 1, 28, 28] in [-1, 1] (DCGAN without batch norm)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(GAN_LATENT, 64 * 7 * 7)
        self.deconv1 = nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1)
        self.deconv2 = nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1)

    def forward(self, z):
        h = torch.relu(self.fc(z)).reshape(-1, 64, 7, 7)
        return torch.tanh(self.deconv2(torch.relu(self.deconv1(h))))


class Discriminator(nn.Module):
    """image [N, 1, 28, 28] -> logit [N, 1]."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 4, stride=2, padding=1)
        self.fc = nn.Linear(32 * 7 * 7, 1)

    def forward(self, image):
        h = nn.functional.leaky_relu(self.conv1(image), 0.2)
        h = nn.functional.leaky_relu(self.conv2(h), 0.2)
        return self.fc(torch.flatten(h, 1))


def models():
    out = {}
    for act in ("sigmoid", "tanh", "relu"):
        torch.manual_seed(0)
        out["mlp_" + act] = MLP(act)
    torch.manual_seed(0)
    out["lenet"] = LeNet()
    torch.manual_seed(1)
    out["lenet_tl"] = LeNetTransfer()
    torch.manual_seed(0)
    out["ae"] = AE()
    torch.manual_seed(0)
    out["vae"] = VAE()
    out["vae_dec"] = DecoderOnly(out["vae"].dec)
    torch.manual_seed(0)
    out["gan_g"] = Generator()
    out["gan_d"] = Discriminator()
    return out


# name: (example inputs, input names, output names)
def signature(name):
    img = torch.zeros(2, 1, 28, 28)
    if name == "vae":
        return (img, torch.zeros(2, LATENT)), ["x", "eps"], ["logits", "kl"]
    if name == "vae_dec":
        return (torch.zeros(2, LATENT),), ["z"], ["logits"]
    if name == "gan_g":
        return (torch.zeros(2, GAN_LATENT),), ["z"], ["image"]
    if name == "gan_d":
        return (img,), ["image"], ["logits"]
    return (img,), ["x"], ["logits"]


def export(model, path, name, train_mode=False):
    args, ins, outs = signature(name)
    mode = torch.onnx.TrainingMode.PRESERVE if train_mode else torch.onnx.TrainingMode.EVAL
    model.train(train_mode)
    dyn = {k: {0: "N"} for k in ins + outs if k != "kl"}
    torch.onnx.export(model, args, path, input_names=ins, output_names=outs, dynamic_axes=dyn,
                      opset_version=13, training=mode, do_constant_folding=False)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: export_models.py OUT_DIR")
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, m in models().items():
        path = os.path.join(sys.argv[1], name + ".onnx")
        export(m, path, name, train_mode=name == "lenet" and LENET_DROPOUT > 0)
        if name == "lenet":  # the inference export (eval mode: dropout is the identity)
            export(m, os.path.join(sys.argv[1], name + "_eval.onnx"), name)


if __name__ == "__main__":
    main()
