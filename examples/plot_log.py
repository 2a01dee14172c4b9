"""Loss and accuracy curves of a training example: plot_log.py LOG.jsonl OUT.png [TITLE]

Reads the JSON-lines log an example writes (OUT/log.jsonl): the lines with
"step" and "loss" (or "d_loss"/"g_loss" for the DCGAN) give the training
loss curve, the lines with "epoch" the per-epoch test loss and accuracy.
Needs python3-matplotlib (scripts/install-deps.sh).
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: plot_log.py LOG.jsonl OUT.png [TITLE]")
    with open(sys.argv[1]) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    steps = [r for r in rows if "epoch" not in r and "step" in r]
    epochs = [r for r in rows if "epoch" in r and "run" not in r]
    has_acc = any("test_accuracy" in r for r in epochs)
    fig, ax = plt.subplots(1, 2 if has_acc else 1, figsize=(11 if has_acc else 6, 4), squeeze=False)
    ax = ax[0]
    for key in ("loss", "d_loss", "g_loss"):
        pts = [(r["step"], r[key]) for r in steps if key in r]
        if pts:
            ax[0].plot(*zip(*pts), label="train " + key.replace("_loss", " loss").replace("loss loss", "loss"),
                       linewidth=0.8)
    pts = [(r["step"], r["test_loss"]) for r in epochs if "test_loss" in r]
    if pts:
        ax[0].plot(*zip(*pts), "o-", label="test loss (end of epoch)")
    ax[0].set_xlabel("step")
    ax[0].set_ylabel("loss")
    ax[0].legend()
    ax[0].grid(alpha=0.3)
    if has_acc:
        pts = [(r["epoch"], r["test_accuracy"]) for r in epochs if "test_accuracy" in r]
        ax[1].plot(*zip(*pts), "o-", color="tab:green")
        ax[1].set_xlabel("epoch")
        ax[1].set_ylabel("test accuracy")
        ax[1].grid(alpha=0.3)
    if len(sys.argv) == 4:
        fig.suptitle(sys.argv[3])
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=100)
    print(f"wrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
