"""The model card's figure and table of issue 46: each shipped model's Kodak mean curve on
MS-SSIM (dB), PSNR and SSIMULACRA2 against bpp, beside JPEG's and WebP's, and a table of the
three by iteration with where each model stops improving.

    python scripts/plot_metric_verdicts.py docs/results/verdicts-proposed docs/results/verdicts-baseline-msssim \
        docs/results/verdicts-baseline --out docs/img/metric_verdicts.png

Each folder is an `lstm-codec eval ... --metrics ssimulacra2` output (lstm.json, jpeg.json, webp.json).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PANELS = (("ms-ssim-rgb-db", "MS-SSIM (dB)"), ("psnr-rgb", "PSNR (dB)"), ("ssimulacra2", "SSIMULACRA2"))
ANCHORS = {"jpeg": ("JPEG 4:2:0", "#ffa028"), "webp": ("WebP", "#50be50")}
MODEL_COLOURS = ("#e63c3c", "#3c78e6", "#444444", "#9b59b6")


def curve(folder: Path, key: str) -> dict | None:
    path = folder / f"{key}.json"
    return json.loads(path.read_text())["results"] if path.exists() else None


def stops_improving(values: list[float]) -> int | None:
    """The first iteration (1-based) that does not improve on the one before (None: every one does)."""
    return next((t + 1 for t in range(1, len(values)) if values[t] <= values[t - 1]), None)


def table(folders: list[Path]) -> str:
    lines = []
    for folder in folders:
        c = curve(folder, "lstm")
        name = folder.name.removeprefix("verdicts-")
        lines.append(f"\n**{name}** (Kodak mean, the fast encoder)\n")
        lines.append("| iterations | bpp | MS-SSIM | PSNR (dB) | SSIMULACRA2 |\n|---:|---:|---:|---:|---:|")
        for i, k in enumerate(c["setting"]):
            lines.append(f"| {int(k)} | {c['bpp'][i]:.3f} | {c['ms-ssim-rgb'][i]:.4f} | {c['psnr-rgb'][i]:.2f} | "
                         f"{c['ssimulacra2'][i]:.1f} |")
        for key, label in (("ms-ssim-rgb", "MS-SSIM"), ("psnr-rgb", "PSNR"), ("ssimulacra2", "SSIMULACRA2")):
            t = stops_improving(c[key])
            lines.append(f"- {label}: " + ("rises with every iteration" if t is None else
                                           f"stops improving at iteration {t} ({c['bpp'][t - 1]:.3f} bpp)"))
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    folders = [Path(f) for f in a.folders]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    for ax, (key, label) in zip(axes, PANELS):
        for anchor, (name, colour) in ANCHORS.items():
            c = curve(folders[0], anchor)
            if c and key in c:
                ax.plot(c["bpp"], c[key], "s-", color=colour, label=name, ms=3)
        for folder, colour in zip(folders, MODEL_COLOURS):
            c = curve(folder, "lstm")
            if c and key in c:
                ax.plot(c["bpp"], c[key], "o-", color=colour, label=f"LSTM {folder.name.removeprefix('verdicts-')}",
                        ms=3)
        ax.set_xlim(0, 2.0)
        ax.set_xlabel("bpp (real file bytes, Kodak mean)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("The shipped models on Kodak: the metric they were fine-tuned on (MS-SSIM) and two they never saw")
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(table(folders))
    print(f"\nwrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
