"""BD-rate: how many more bits (%) one RD curve needs than another for the same quality,
as the field computes it (the `bjontegaard` package): pchip interpolation by default (JVET's
common test conditions), Akima on request, over the quality range both curves span
(`overlap`), with a confidence interval across a data set's images (`bd_rate_interval`: a
bootstrap over the images)."""
from __future__ import annotations

import math
import warnings

import numpy as np

from codec.quality import registry
from codec.rd.points import RDPoint, curve_of

DEFAULT_SCALE = registry.get(registry.DEFAULT).bd_scale  # MS-SSIM in dB, as papers quote it
METHODS = ("pchip", "akima")  # pchip: JVET's CTC and CompressAI; akima: the other common choice


def bd_scales() -> list[str]:
    """The scales BD-rates are computed on, one per metric (its dB scale where it has one), the
    default's first."""
    return list(dict.fromkeys([DEFAULT_SCALE, *(x.bd_scale for x in registry.all_metrics())]))


def _has(curve: dict, scale: str) -> bool:
    return scale in curve or registry.scale(scale).metric.id in curve


def image_bd_rate(anchor: list[RDPoint], test: list[RDPoint], scale: str = DEFAULT_SCALE) -> float | None:
    """BD-rate (%) of `test` against `anchor` on one image, from their points; None when
    the scale's metric is not measured on every point (the slow ones are measured on request),
    NaN when the curves do not overlap."""
    a, t = curve_of(anchor), curve_of(test)
    if not (_has(a, scale) and _has(t, scale)):
        return None
    return bd_rate(a, t, scale)


def bd_rates(anchor: dict, test: dict, method: str = "pchip") -> dict[str, float]:
    """BD-rate (%) of `test` against `anchor` on every BD scale both curves have, by scale id
    (a dB scale is derived from its metric where a curve lacks it)."""
    return {scale: bd_rate(anchor, test, scale, method) for scale in bd_scales()
            if _has(anchor, scale) and _has(test, scale)}


def bd_rate(anchor: dict, test: dict, metric: str, method: str = "pchip") -> float:
    """BD-rate in percent of `test` against `anchor` (negative: test needs fewer bits)."""
    import bjontegaard as bd
    if method not in METHODS:
        raise ValueError(f"BD-rate interpolation must be one of {METHODS}, not {method!r}")
    if overlap(anchor, test, metric) is None:
        return math.nan  # no overlap in quality: BD-rate is undefined
    ra, da = _monotone(anchor["bpp"], _metric(anchor, metric))
    rt, dt = _monotone(test["bpp"], _metric(test, metric))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(bd.bd_rate(ra, da, rt, dt, method=method, require_matching_points=False, min_overlap=0))


def overlap(anchor: dict, test: dict, metric: str) -> tuple[float, float] | None:
    """The quality range both curves span, over which the BD integral runs (None: none), low
    to high in the metric's own units."""
    ra, da = _monotone(anchor["bpp"], _metric(anchor, metric))
    rt, dt = _monotone(test["bpp"], _metric(test, metric))
    if len(ra) < 2 or len(rt) < 2 or max(da) <= min(dt) or max(dt) <= min(da):
        return None
    low, high = max(min(da), min(dt)), min(max(da), max(dt))
    return (low, high) if _higher_is_better(metric) else (-high, -low)


def reach(curve: dict, scale: str) -> float:
    """The best quality a curve reaches on a scale, in the scale's own units (NaN: none)."""
    best = max(_monotone(curve["bpp"], _metric(curve, scale))[1] or [math.nan])
    return best if _higher_is_better(scale) else -best


def bd_rate_interval(anchor: list[RDPoint], test: list[RDPoint], method: str = "pchip", resamples: int = 400,
                     level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """A confidence interval of a data set's MS-SSIM dB BD-rate (of its mean curves) across
    its images: the BD-rates of the mean curves of `resamples` draws of the images with
    replacement, and the central `level` of them. (NaN, NaN) with fewer than two images."""
    images = sorted({p.image for p in test} & {p.image for p in anchor})
    if len(images) < 2:
        return math.nan, math.nan
    (a_bpp, a_q), (t_bpp, t_q) = _by_setting(anchor, images), _by_setting(test, images)
    rng = np.random.default_rng(seed)
    values = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a setting no drawn image has: NaN, dropped by _monotone
        for _ in range(resamples):
            draw = rng.choice(len(images), len(images))
            values.append(bd_rate({"bpp": np.nanmean(a_bpp[draw], 0), registry.DEFAULT: np.nanmean(a_q[draw], 0)},
                                  {"bpp": np.nanmean(t_bpp[draw], 0), registry.DEFAULT: np.nanmean(t_q[draw], 0)},
                                  DEFAULT_SCALE, method))
    values = np.array(values)
    values = values[np.isfinite(values)]
    if not len(values):
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def _by_setting(points: list[RDPoint], images: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(images x settings) arrays of bpp and MS-SSIM, NaN where an image lacks a setting: a
    draw's mean curve is their column means, as mean_curve averages each setting."""
    settings = sorted({p.setting for p in points})
    row, col = {im: i for i, im in enumerate(images)}, {s: j for j, s in enumerate(settings)}
    bpp, q = np.full((len(images), len(settings)), np.nan), np.full((len(images), len(settings)), np.nan)
    for p in points:
        if p.image in row:
            bpp[row[p.image], col[p.setting]], q[row[p.image], col[p.setting]] = p.bpp, p.quality[registry.DEFAULT]
    return bpp, q


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


def _metric(curve: dict, scale_id: str) -> list[float]:
    """A curve's values on a scale, oriented so that higher is better (a lower-is-better metric
    negated, so the BD integral and _monotone see a rising curve); a dB scale is derived when
    a curve has only its metric."""
    if scale_id in curve:
        values = curve[scale_id]
    else:
        scale = registry.scale(scale_id)
        values = [scale.of(v) for v in curve[scale.metric.id]]
    return list(values) if _higher_is_better(scale_id) else [-v for v in values]


def _higher_is_better(scale_id: str) -> bool:
    """A registered scale's direction; a curve key of one's own counts as higher-is-better."""
    scales = registry.scales()
    return scales[scale_id].higher_is_better if scale_id in scales else True
