"""Sweeping a classical codec's setting: an RD curve (`rd_curve`), or the setting that hits a
target bpp (`match_bpp`, bisection)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codec.classical.base import ClassicalResult
from codec.classical.registry import get_codec


def rd_curve(codec: str, pixels: np.ndarray, settings=None) -> list[ClassicalResult]:
    c = get_codec(codec)
    return [c.encode(pixels, s) for s in (settings or c.curve_settings)]


@dataclass
class Match:
    target_bpp: float
    below: ClassicalResult | None   # highest bpp not above the target (None: even the lowest is above)
    closest: ClassicalResult        # nearest bpp either side
    tried: int                      # encodes spent

    @property
    def best(self) -> ClassicalResult:
        """The fair comparison point: not above the target when possible."""
        return self.below or self.closest


def match_bpp(codec: str, pixels: np.ndarray, target_bpp: float, max_steps: int = 14,
              known: dict | None = None) -> Match:
    """Bisection on the codec's setting for the target bpp.

    Sizes grow with the setting almost everywhere but not strictly (encoders have small
    non-monotonic steps), so after bisection the neighbours are checked too. `known`: the bpp
    of this image at some settings (its RD curve): the bisection starts between the two that
    bracket the target instead of across the whole range."""
    c = get_codec(codec)
    cache: dict = {}

    def enc(s):
        s = int(s) if c.integer else float(s)
        if s not in cache:
            cache[s] = c.encode(pixels, s)
        return cache[s]

    lo, hi = _bracket(c.low, c.high, target_bpp, known or {})
    if c.integer:
        lo, hi = int(lo), int(hi)  # a curve's settings may come back as floats
        while hi - lo > 1 and len(cache) < max_steps:
            mid = (lo + hi) // 2
            if enc(mid).bpp <= target_bpp:
                lo = mid
            else:
                hi = mid
        for s in range(max(c.low, lo - 1), min(c.high, hi + 1) + 1):
            enc(s)
    elif not getattr(c, "setting_is_bpp", False):
        for _ in range(max_steps):
            mid = (lo + hi) / 2
            if enc(mid).bpp <= target_bpp:
                lo = mid
            else:
                hi = mid
    else:
        # the continuous setting is a rate in bpp: bracket the target closely
        lo_l = np.log(max(lo, target_bpp * 0.6))
        hi_l = np.log(min(hi, max(target_bpp * 1.05, lo * 1.01)))
        for _ in range(min(max_steps, 7)):
            mid = float(np.exp((lo_l + hi_l) / 2))
            if enc(mid).bpp <= target_bpp:
                lo_l = np.log(mid)
            else:
                hi_l = np.log(mid)
        enc(float(np.exp(lo_l)))
    results = list(cache.values())
    below = [r for r in results if r.bpp <= target_bpp]
    best_below = max(below, key=lambda r: r.bpp) if below else None
    closest = min(results, key=lambda r: abs(r.bpp - target_bpp))
    return Match(target_bpp, best_below, closest, len(cache))


def _bracket(low, high, target_bpp: float, known: dict) -> tuple:
    """The settings between which the target bpp lies, from the known (setting: bpp) pairs;
    the codec's whole range where they do not bracket it in order."""
    lo = max((s for s, b in known.items() if b <= target_bpp and low <= s <= high), default=low)
    hi = min((s for s, b in known.items() if b > target_bpp and low <= s <= high), default=high)
    return (lo, hi) if lo < hi else (low, high)
