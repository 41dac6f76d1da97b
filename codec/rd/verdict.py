"""Verdicts in words: which codec needs fewer bits for the same quality, on several metrics at
once (MS-SSIM, which the shipped models were fine-tuned on, beside SSIMULACRA2 and PSNR, which
they never saw), each over the quality range it spans, saying where one curve ends below the
other's reach and when the metrics disagree in sign. The app's headline, `eval`'s summary and
the data set window say it this way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from codec.quality import registry
from codec.rd.bd import bd_rate, overlap, reach

# MS-SSIM in dB (the training objective of the fine-tuned models), SSIMULACRA2 (perceptual,
# never trained for), PSNR (what L1 and SmoothL1 training is closest to)
VERDICT_SCALES = ("ms-ssim-rgb-db", "ssimulacra2", "psnr-rgb")


@dataclass
class Verdict:
    scale: str
    bd: float                          # % (negative: the test codec needs fewer bits); NaN: no overlap
    span: tuple[float, float] | None   # the quality range the BD integral runs over, in the scale's units
    test_top: float                    # the best quality each curve reaches, in the scale's units
    anchor_top: float

    @property
    def label(self) -> str:
        return registry.scale(self.scale).label

    def ends_short(self) -> str | None:
        """Which curve ("test" / "anchor") stops short of the other's best quality by more than a
        tenth of the range they share: a BD-rate over the overlap alone hides that."""
        if self.span is None:
            return None
        gap = self.test_top - self.anchor_top
        if not registry.scale(self.scale).higher_is_better:
            gap = -gap
        if abs(gap) <= 0.1 * (self.span[1] - self.span[0]):
            return None
        return "test" if gap < 0 else "anchor"


def verdicts(anchor: dict, test: dict, method: str = "pchip", scales=VERDICT_SCALES) -> list[Verdict]:
    """Verdicts of `test` against `anchor` (CompressAI-shaped curves) on the scales both have."""
    out = []
    for scale in scales:
        metric = registry.scale(scale).metric.id
        if not ((metric in anchor or scale in anchor) and (metric in test or scale in test)):
            continue
        out.append(Verdict(scale, bd_rate(anchor, test, scale, method), overlap(anchor, test, scale),
                           reach(test, scale), reach(anchor, scale)))
    return out


def sentence(v: Verdict, test: str, anchor: str) -> str:
    """One verdict in words, with its range and where a curve ends."""
    if math.isnan(v.bd):
        return f"{v.label}: no verdict (the curves do not overlap)"
    word = "fewer" if v.bd < 0 else "more"
    text = (f"{v.label}: {test} needs {abs(v.bd):.1f}% {word} bits than {anchor} "
            f"(from {v.span[0]:.1f} to {v.span[1]:.1f})")
    end = ending(v, test, anchor)
    return text + (f"; {end}" if end else "")


def ending(v: Verdict, test: str, anchor: str) -> str | None:
    """Where one curve stops short of the other's reach, in words (None: neither does)."""
    short = v.ends_short()
    if short == "test":
        return f"{test}'s curve ends at {v.test_top:.1f}, {anchor}'s reaches {v.anchor_top:.1f}"
    if short == "anchor":
        return f"{anchor}'s curve ends at {v.anchor_top:.1f}, {test}'s reaches {v.test_top:.1f}"
    return None


def disagreement(found: list[Verdict], test: str, anchor: str) -> str | None:
    """A sentence when the verdicts disagree in sign (None when they agree)."""
    known = [v for v in found if not math.isnan(v.bd)]
    for_test = [v.label for v in known if v.bd < 0]
    for_anchor = [v.label for v in known if v.bd > 0]
    if for_test and for_anchor:
        return (f"The metrics disagree: {' and '.join(for_test)} favour{'s' if len(for_test) == 1 else ''} {test}, "
                f"{' and '.join(for_anchor)} favour{'s' if len(for_anchor) == 1 else ''} {anchor}.")
    return None


def trained_for(meta: dict) -> str:
    """The loss a model was (last) trained on, in words, from its checkpoint's settings."""
    s = (meta or {}).get("train_settings", {})
    loss = s.get("loss")
    if loss == "l1+ms-ssim":
        w = float(s.get("msssim_weight", 0.84))
        last = s.get("msssim_weight_last")
        share = f"{w:.2f}" if last is None or last == w else f"{w:.2f} falling to {float(last):.2f}"
        return f"MS-SSIM ({share}·(1 − MS-SSIM) + L1)"
    return {"l1": "L1", "smoothl1": "SmoothL1 (0.5·MSE here: PSNR's error)"}.get(loss, "an unrecorded loss")
