"""Plot a training run's loss and per-iteration residual L1 against steps and hours.

    python scripts/plot_training.py docs/training/baseline_log.csv docs/img/loss_curve_baseline.png [TITLE]

Steps are optimizer steps, whatever the batch (the logs of the shipped models mix CPU
steps of 32 patches and GPU steps of 64 or 256; docs/history.md says where each starts).
"""
import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def smooth(v, n=50):
    v = np.asarray(v, float)
    if len(v) < n:
        return v
    return np.convolve(v, np.ones(n) / n, mode="valid")


def main(log="runs/main/log.csv", out="docs/img/loss_curve.png", title=""):
    rows = list(csv.DictReader(open(log)))
    steps = np.array([int(r["step"]) for r in rows])
    hours = np.array([float(r["train_seconds"]) for r in rows]) / 3600
    iters = [k for k in (1, 2, 4, 8, 16) if f"l1_it{k}" in rows[0]]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), dpi=110)
    n = 50
    for k in iters:
        v = smooth([float(r[f"l1_it{k}"]) for r in rows], n)
        axes[0].plot(steps[len(steps) - len(v):], v, label=f"after iteration {k}")
    axes[0].set_xlabel("training step")
    axes[0].set_ylabel(f"mean |residual| (pixels in [-0.5, 0.5]), {n}-step mean")
    axes[0].set_yscale("log")
    axes[0].grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    loss = smooth([float(r["loss"]) for r in rows], n)
    axes[1].plot(hours[len(hours) - len(loss):], loss, color="k")
    axes[1].set_xlabel("training hours (wall clock, on the hardware that ran each step)")
    axes[1].set_ylabel("training loss (mean over iterations)")
    axes[1].set_yscale("log")
    axes[1].grid(alpha=0.3, which="both")
    fig.suptitle(f"{title or Path(log).stem}: {steps[-1]} steps, {hours[-1]:.2f} h")
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    print(f"{out}: {steps[-1]} steps, {hours[-1]:.2f} h")


if __name__ == "__main__":
    main(*sys.argv[1:])
