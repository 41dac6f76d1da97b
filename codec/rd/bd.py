"""BD-rate: how many more bits (%) one RD curve needs than another for the same quality,
as the field computes it (Bjontegaard, pchip interpolation: the `bjontegaard` package)."""
from __future__ import annotations

import math
import warnings

from codec.quality.metrics import msssim_db
from codec.rd.points import RDPoint, curve_of

BD_METRICS = {"ms-ssim-db": "ms-ssim-rgb-db", "psnr": "psnr-rgb", "ssim": "ssim-rgb", "ssimulacra2": "ssimulacra2"}
BD_LABELS = {"ms-ssim-db": "MS-SSIM dB", "psnr": "PSNR", "ssim": "SSIM", "ssimulacra2": "SSIMULACRA2"}


def image_bd_rate(anchor: list[RDPoint], test: list[RDPoint], metric: str = "ms-ssim-rgb-db") -> float | None:
    """BD-rate (%) of `test` against `anchor` on one image, from their points; None when
    `metric` is not measured on every point (SSIMULACRA2 is measured on request), NaN when
    the curves do not overlap."""
    a, t = curve_of(anchor), curve_of(test)
    if metric != "ms-ssim-rgb-db" and not (metric in a and metric in t):
        return None
    return bd_rate(a, t, metric)


def bd_rates(anchor: dict, test: dict) -> dict[str, float]:
    """BD-rate (%) of `test` against `anchor` on every BD metric both curves have (MS-SSIM dB
    is derived from MS-SSIM where a curve lacks it)."""
    return {name: bd_rate(anchor, test, metric) for name, metric in BD_METRICS.items()
            if metric == "ms-ssim-rgb-db" or (metric in anchor and metric in test)}


def bd_rate(anchor: dict, test: dict, metric: str) -> float:
    """BD-rate in percent of `test` against `anchor` (negative: test needs fewer bits)."""
    import bjontegaard as bd
    ra, da = _monotone(anchor["bpp"], _metric(anchor, metric))
    rt, dt = _monotone(test["bpp"], _metric(test, metric))
    if len(ra) < 2 or len(rt) < 2 or max(da) <= min(dt) or max(dt) <= min(da):
        return math.nan  # no overlap in quality: BD-rate is undefined
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(bd.bd_rate(ra, da, rt, dt, method="pchip", require_matching_points=False, min_overlap=0))


def _monotone(rate, dist):
    """Points of an RD curve that raise quality as rate rises (BD interpolation needs a
    strictly increasing curve; a non-progressive iteration would otherwise break it)."""
    pts = sorted(zip(rate, dist))
    keep, best = [], -math.inf
    for r, d in pts:
        if d > best and math.isfinite(d):
            keep.append((r, d))
            best = d
    return [p[0] for p in keep], [p[1] for p in keep]


def _metric(curve: dict, metric: str) -> list[float]:
    """A curve's values of `metric`; MS-SSIM in dB is derived when a curve has only MS-SSIM."""
    if metric not in curve and metric == "ms-ssim-rgb-db":
        return [msssim_db(v) for v in curve["ms-ssim-rgb"]]
    return curve[metric]
