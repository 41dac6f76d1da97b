"""Distortion metrics on 8-bit RGB: PSNR and MS-SSIM (pytorch-msssim, data_range 255).

MS-SSIM needs the shorter side above (win - 1) * 2**4 = 160 pixels for its 5 scales and
11-pixel Gaussian window (sigma 1.5). Smaller images fall back, documented here and in
docs/metrics.md, rather than failing:
- 33..160 pixels: all 5 scales with the largest odd window that fits (down to 3 pixels;
  the Gaussian keeps sigma 1.5, so a 7-pixel window still spans +-2 sigma);
- 3..32 pixels: single-scale SSIM with an 11-pixel window, or the largest odd one that fits;
- under 3 pixels: SSIM's formula over the whole image as one window.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from pytorch_msssim import ms_ssim, ssim

WIN = 11


def _check(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError("metrics are defined here on 8-bit images (uint8)")


def mse(a: np.ndarray, b: np.ndarray) -> float:
    _check(a, b)
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR over all RGB samples, peak 255. Identical images give +inf."""
    m = mse(a, b)
    return math.inf if m == 0 else 10.0 * math.log10(255.0 ** 2 / m)


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float64)).permute(2, 0, 1)[None]


def _global_ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for ch in range(a.shape[1]):
        x, y = a[0, ch].flatten(), b[0, ch].flatten()
        mx, my = x.mean(), y.mean()
        vx, vy = x.var(unbiased=False), y.var(unbiased=False)
        cov = ((x - mx) * (y - my)).mean()
        vals.append(((2 * mx * my + c1) * (2 * cov + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2)))
    return float(torch.stack(vals).mean())


def msssim_window(height: int, width: int) -> int:
    """Window size MS-SSIM uses for this image size (0: too small for 5 scales)."""
    side = min(height, width)
    w = min(WIN, (side - 1) // 16 + 1)
    w -= 1 - w % 2
    return w if w >= 3 and side > (w - 1) * 16 else 0


def msssim(a: np.ndarray, b: np.ndarray) -> float:
    """MS-SSIM of two (H, W, 3) uint8 images, with the small-image fallback above."""
    _check(a, b)
    x, y = _tensor(a), _tensor(b)
    win = msssim_window(a.shape[0], a.shape[1])
    if win:
        return float(ms_ssim(x, y, data_range=255, win_size=win))
    side = min(a.shape[:2])
    if side >= 3:
        return float(ssim(x, y, data_range=255, win_size=min(WIN, side if side % 2 else side - 1)))
    return _global_ssim(x, y)


def msssim_db(value: float) -> float:
    """MS-SSIM in dB, -10 log10(1 - x): the scale BD-rates on MS-SSIM are computed on."""
    return math.inf if value >= 1 else -10.0 * math.log10(1.0 - value)


def bpp(num_bytes: int, height: int, width: int) -> float:
    return 8.0 * num_bytes / (height * width)
