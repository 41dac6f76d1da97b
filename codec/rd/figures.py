"""Headless figures (matplotlib, Agg): RD plots and the side-by-side comparison figure."""
from __future__ import annotations

import numpy as np

from codec.base.atomic import atomic_path

STYLE = {"lstm": ("LSTM", "tab:red", "o-"), "jpeg": ("JPEG 4:2:0", "tab:orange", "s-"),
         "jpeg444": ("JPEG 4:4:4", "tab:brown", "s--"), "webp": ("WebP", "tab:green", "^-"),
         "jpeg2000": ("JPEG 2000", "tab:purple", "d-"), "avif": ("AVIF", "tab:blue", "v-"),
         "heic": ("HEIC (HEVC intra)", "tab:pink", "P-"), "jxl": ("JPEG XL", "tab:cyan", "X-"),
         "lstm-baseline": ("LSTM baseline (Toderici)", "tab:gray", "o-"),
         "lstm-proposed": ("LSTM proposed (paper) + the L1 + MS-SSIM recipe", "tab:red", "o-"),
         "lstm-baseline-plain": ("LSTM baseline, plain bits (no entropy coding)", "tab:gray", "o:"),
         "lstm-proposed-plain": ("LSTM proposed, plain bits (no entropy coding)", "tab:red", "o:"),
         "lstm-baseline-msssim": ("LSTM baseline + the L1 + MS-SSIM recipe", "black", "o-"),
         "lstm-baseline-msssim-plain": ("LSTM baseline tuned for MS-SSIM, plain bits", "black", "o:"),
         "lstm-baseline-msssim-quick": ("LSTM baseline tuned for MS-SSIM, quick encoder", "tab:olive", "o-"),
         "lstm-baseline-msssim-refined": ("LSTM baseline tuned for MS-SSIM, thorough encoder", "tab:cyan", "o-")}


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def rd_plot(curves: dict, path, title: str = "", max_bpp: float = 2.25) -> None:
    """MS-SSIM (dB) and PSNR vs bpp, one line per codec."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), dpi=110)
    for key, c in curves.items():
        label, color, fmt = STYLE.get(key, (key, None, "o-"))
        for ax, metric in zip(axes, ("ms-ssim-rgb-db", "psnr-rgb")):
            pts = [(b, v) for b, v in zip(c["bpp"], c[metric]) if b <= max_bpp * 1.1]
            if pts:
                ax.plot(*zip(*pts), fmt, color=color, label=label, ms=3.5, lw=1.4)
    axes[0].set_ylabel("MS-SSIM (dB) = -10 log10(1 - MS-SSIM)")
    axes[1].set_ylabel("PSNR RGB (dB)")
    for ax in axes:
        ax.set_xlabel("bits per pixel (real file bytes)")
        ax.set_xlim(0, max_bpp)
        ax.grid(alpha=0.3)
    # one legend under both plots: inside either it would hide curves
    handles, labels = axes[0].get_legend_handles_labels()
    rows = -(-len(labels) // 4)
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.035 * rows + 0.01, 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def error_map(original: np.ndarray, recon: np.ndarray) -> np.ndarray:
    """Per-pixel mean absolute error over RGB, in 8-bit units."""
    return np.abs(original.astype(np.int16) - recon.astype(np.int16)).mean(axis=2)


def comparison_figure(path, original: np.ndarray, panels: list[tuple[str, np.ndarray, str]],
                      title: str = "", gain: float = 4.0) -> None:
    """Original + each (label, reconstruction, metrics text), and under them error maps
    on one shared scale (|error| x gain, clipped), so the maps are comparable."""
    plt = _plt()
    n = 1 + len(panels)
    h, w = original.shape[:2]
    fig_w = 4.2 * n
    fig, axes = plt.subplots(2, n, figsize=(fig_w, 2 * 4.2 * h / w + 1.2), dpi=110, squeeze=False)
    axes[0, 0].imshow(original)
    axes[0, 0].set_title(f"original\n{w}x{h}", fontsize=9)
    vmax = 255.0 / gain
    im = None
    for i, (label, rec, text) in enumerate(panels, start=1):
        axes[0, i].imshow(rec)
        axes[0, i].set_title(f"{label}\n{text}", fontsize=9)
        im = axes[1, i].imshow(error_map(original, rec), cmap="inferno", vmin=0, vmax=vmax)
        axes[1, i].set_title(f"|error| of {label.split(' ')[0]}", fontsize=9)
    axes[1, 0].axis("off")
    if im is not None:
        fig.colorbar(im, ax=axes[1, 0], fraction=0.5, label="mean |error| (8-bit levels)")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
