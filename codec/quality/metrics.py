"""Distortion metrics on 8-bit RGB: PSNR and MS-SSIM (pytorch-msssim, data_range 255).

MS-SSIM needs the shorter side above (win - 1) * 2**4 = 160 pixels for its 5 scales and
11-pixel Gaussian window (sigma 1.5). Smaller images fall back, documented here and in
docs/metrics.md, rather than failing:
- 33..160 pixels: all 5 scales with the largest odd window that fits (down to 3 pixels;
  the Gaussian keeps sigma 1.5, so a 7-pixel window still spans +-2 sigma);
- 3..32 pixels: single-scale SSIM with an 11-pixel window, or the largest odd one that fits;
- under 3 pixels: SSIM's formula over the whole image as one window.

The 5-scale MS-SSIM is pytorch-msssim's `ms_ssim` computed again in numpy/OpenCV float64
(`_ms_ssim`): the same window, valid filtering, average pooling with zero padding and
weights, agreeing with the library to about 1e-15 (tests/test_metrics.py). With the SSIM
that comes out of the same pass it takes 0.03 s at Kodak's size, against the library's 0.7 s
for the two (its grouped float64 convolutions take torch's slow generic path): the first
image's side is kept for reuse, OpenCV filters, the maps are updated in place. The app
computes it for every curve point.
"""
from __future__ import annotations

import math
import threading
from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np
import torch
from pytorch_msssim import ssim

from codec.imaging.imageio import content_key
from codec.quality.msssim import WEIGHTS, gaussian

WIN = 11
SIGMA = 1.5
SCALE_WEIGHTS = WEIGHTS  # pytorch-msssim's (Wang et al. 2003)


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


@lru_cache(maxsize=8)
def _gauss_window(size: int) -> np.ndarray:
    """The library's window: built in float32, used in float64."""
    return gaussian(size, SIGMA).double().numpy()


def _blur(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Valid (unpadded) separable Gaussian filtering of (n, h, w) float64, along h and w:
    OpenCV's separable filter (vectorised, 3x scipy's correlate1d here), its border cut off."""
    lo, hi = len(w) // 2, len(w) - 1 - len(w) // 2
    out = np.empty((x.shape[0], x.shape[1] - lo - hi, x.shape[2] - lo - hi))
    for c in range(x.shape[0]):
        out[c] = cv2.sepFilter2D(x[c], cv2.CV_64F, w, w, borderType=cv2.BORDER_CONSTANT)[lo:x.shape[1] - hi,
                                                                                          lo:x.shape[2] - hi]
    return out


def _avg_pool(x: np.ndarray) -> np.ndarray:
    """torch's avg_pool2d(kernel 2, padding h % 2, w % 2): zero padding counted in the mean."""
    c, h, w = x.shape
    if h % 2 or w % 2:
        x = np.pad(x, ((0, 0), (h % 2, h % 2), (w % 2, w % 2)))
    hh, ww = x.shape[1] // 2, x.shape[2] // 2
    out = x[:, 0:2 * hh:2, 0:2 * ww:2] + x[:, 1:2 * hh:2, 0:2 * ww:2]
    out += x[:, 0:2 * hh:2, 1:2 * ww:2]
    out += x[:, 1:2 * hh:2, 1:2 * ww:2]
    out /= 4
    return out


class _Scale(NamedTuple):
    """The first image's side of SSIM at one scale: its pixels, blurred mean, squared mean
    and variance plus C2."""
    x: np.ndarray
    mu: np.ndarray
    mu_sq: np.ndarray
    var_c2: np.ndarray


def _reference(a: np.ndarray, win: int, c2: float) -> list[_Scale]:
    """The first image's side of MS-SSIM, per scale. The app and the evaluations compare one
    original with many reconstructions; its side is computed once (2 of SSIM's 5
    filterings) and kept for the last few originals."""
    def compute():
        x, w, levels = a.astype(np.float64).transpose(2, 0, 1), _gauss_window(win), []
        for scale in range(len(SCALE_WEIGHTS)):
            mu = _blur(x, w)
            mu_sq = mu * mu
            levels.append(_Scale(x, mu, mu_sq, _blur(x * x, w) - mu_sq + c2))
            if scale < len(SCALE_WEIGHTS) - 1:
                x = _avg_pool(x)
        return levels
    return _kept(f"{content_key(a)}-{win}-{c2}", compute)


_REFERENCES: dict[str, list] = {}
_REFERENCES_LOCK = threading.Lock()


def _kept(key: str, compute):
    """compute(), kept under `key` for the last few originals (most recently used last)."""
    with _REFERENCES_LOCK:
        hit = _REFERENCES.pop(key, None)
        if hit is not None:
            _REFERENCES[key] = hit
            return hit
    value = compute()
    with _REFERENCES_LOCK:
        _REFERENCES[key] = value
        while len(_REFERENCES) > 4:
            _REFERENCES.pop(next(iter(_REFERENCES)))
    return value


def _ms_ssim(a: np.ndarray, b: np.ndarray, win: int, data_range: float = 255.0) -> tuple[float, float]:
    """(MS-SSIM, the first scale's SSIM): pytorch-msssim's ms_ssim and ssim with this window.
    The maps are computed in place: at Kodak's size each pass over them costs as much as a
    filtering."""
    y = b.astype(np.float64).transpose(2, 0, 1)
    w = _gauss_window(win)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    levels = []
    for scale, ref in enumerate(_reference(a, win, c2)):
        mu2, cs = _blur(y, w), _blur(ref.x * y, w)
        mu1_mu2 = ref.mu * mu2
        cs -= mu1_mu2
        cs *= 2
        cs += c2  # 2 cov + C2
        den = _blur(y * y, w)
        mu2 *= mu2  # mu2 squared from here on
        den -= mu2
        den += ref.var_c2  # var1 + var2 + C2
        cs /= den
        last = scale == len(SCALE_WEIGHTS) - 1
        if scale == 0 or last:
            lum = mu1_mu2
            lum *= 2
            lum += c1
            mu2 += ref.mu_sq
            mu2 += c1
            lum /= mu2
            lum *= cs
            ssim_value = lum.reshape(3, -1).mean(-1)
        if scale == 0:
            first = float(ssim_value.mean())
        levels.append(np.maximum(ssim_value if last else cs.reshape(3, -1).mean(-1), 0))
        if not last:
            y = _avg_pool(y)
    per_channel = np.prod(np.stack(levels) ** np.array(SCALE_WEIGHTS)[:, None], axis=0)
    return float(per_channel.mean()), first


def msssim_window(height: int, width: int) -> int:
    """Window size MS-SSIM uses for this image size (0: too small for 5 scales)."""
    side = min(height, width)
    w = min(WIN, (side - 1) // 16 + 1)
    w -= 1 - w % 2
    return w if w >= 3 and side > (w - 1) * 16 else 0


def msssim(a: np.ndarray, b: np.ndarray) -> float:
    """MS-SSIM of two (H, W, 3) uint8 images, with the small-image fallback above."""
    return msssim_and_ssim(a, b)[0]


def msssim_and_ssim(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """MS-SSIM and (single-scale) SSIM, both as pytorch-msssim defines them (11-pixel
    Gaussian window, sigma 1.5, mean over RGB), in one pass where the image allows MS-SSIM's
    standard window; small images fall back as described above."""
    _check(a, b)
    win = msssim_window(a.shape[0], a.shape[1])
    if win == WIN:
        return _ms_ssim(a, b, win)
    side = min(a.shape[:2])
    x, y = _tensor(a), _tensor(b)
    if side >= 3:
        single = float(ssim(x, y, data_range=255, win_size=min(WIN, side if side % 2 else side - 1)))
    else:
        single = _global_ssim(x, y)
    return (_ms_ssim(a, b, win)[0] if win else single), single


def ssimulacra2(a: np.ndarray, b: np.ndarray) -> float:
    """SSIMULACRA2 of a reconstruction `b` of `a` (100: identical; about 90 visually lossless,
    70 high, 50 medium, 30 low quality), by the `ssimulacra2` package's functions (numpy/scipy,
    no weights to download), composed as its compute_ssimulacra2 composes them, on the arrays
    (not through PNG files) and with the original's side (its colour conversions and 2 of the 5
    blurs per scale) computed once per original, as for MS-SSIM: the same score, 1.6x faster
    for an original's second and later reconstructions. The package blurs with scipy's Gaussian
    where libjxl's tool uses a recursive one, so scores may differ slightly from the reference
    implementation's."""
    _check(a, b)
    if min(a.shape[:2]) < 8:
        raise ValueError("SSIMULACRA2 needs images of at least 8x8 pixels")
    from ssimulacra2 import ssimulacra2 as s2
    scores = s2.Msssim()
    linear = s2.srgb_to_linear(b.astype(np.float64))
    for scale, (x, mu1, sigma1_sq) in enumerate(_ssimulacra2_reference(a)):
        if scale:
            linear = s2.downsample(linear, 2, 2)
        y = s2.make_positive_xyb(s2.linear_rgb_to_xyb(linear))
        sigma2_sq, sigma12, mu2 = s2.blur_image(y * y), s2.blur_image(x * y), s2.blur_image(y)
        level = s2.MsssimScale()
        level.avg_ssim = s2.ssim_map(mu1, mu2, sigma1_sq, sigma2_sq, sigma12)
        level.avg_edgediff = s2.edge_diff_map(x, mu1, y, mu2)
        scores.scales.append(level)
    return float(scores.score())


def _ssimulacra2_reference(a: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The original's side of SSIMULACRA2 per scale: (its XYB picture, blurred, blurred square),
    for the scales the package computes (it stops below 8 pixels), kept for the last few
    originals."""
    from ssimulacra2 import ssimulacra2 as s2

    def compute():
        linear, levels = s2.srgb_to_linear(a.astype(np.float64)), []
        for scale in range(s2.kNumScales):
            if scale:
                linear = s2.downsample(linear, 2, 2)
            x = s2.make_positive_xyb(s2.linear_rgb_to_xyb(linear))
            if x.shape[0] < 8 or x.shape[1] < 8:
                break
            levels.append((x, s2.blur_image(x), s2.blur_image(x * x)))
        return levels
    return _kept(f"{content_key(a)}-ssimulacra2", compute)


def msssim_db(value: float) -> float:
    """MS-SSIM in dB, -10 log10(1 - x): the scale BD-rates on MS-SSIM are computed on."""
    return math.inf if value >= 1 else -10.0 * math.log10(1.0 - value)
