"""Where does refinement's gain come from, and what can be cut? (issues 19 and 20)

    python research/refine_budget.py [--size 256x384] [--photos N] [--budgets S,L,U[,P] ...]

Encodes centre crops of training photos (block_rd.py's, never Kodak) with the fast encoder
and with several refinement budgets: fewer Adam steps, no lookahead, refining only the first
N iterations (the BD-rate integral weighs the first iterations most; the late ones rarely
find an improving candidate). Prints, per budget, the MS-SSIM (dB) BD-rate against the fast
encoder, whether every curve rises, and the encode time relative to the fast encoder
(best of the run, same process).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "research"))

from block_rd import DEFAULT_PHOTOS, centre_crop  # noqa: E402

from codec.lstm.checkpoint import load_model  # noqa: E402
from codec.lstm.coder import LSTMCodec  # noqa: E402
from codec.imaging.imageio import load_rgb  # noqa: E402
from codec.quality.metrics import msssim  # noqa: E402
from codec.rd.bd import bd_rate  # noqa: E402
from codec.lstm.encoders import RefineSettings  # noqa: E402
from codec.lstm.zoo import DEFAULT, shipped  # noqa: E402

# name -> (steps, lookahead, refine iterations 1..until; 0: all)
BUDGETS = {
    "fast": None,
    "shipped (10 steps, lookahead 1)": (10, 1, 0),
    "10 steps, lookahead 1, iterations 1-8": (10, 1, 8),
    "10 steps, lookahead 1, iterations 1-4": (10, 1, 4),
    "5 steps, lookahead 1": (5, 1, 0),
    "5 steps, lookahead 0": (5, 0, 0),
    "3 steps, lookahead 1, iterations 1-8": (3, 1, 8),
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="256x384", help="crop HxW (default 256x384)")
    p.add_argument("--photos", type=int, default=4)
    p.add_argument("--budgets", nargs="*", help="budgets to run instead of the list above, each as "
                   "STEPS,LOOKAHEAD,UNTIL[,PATIENCE[,LR]] (UNTIL 0: every iteration)")
    a = p.parse_args(argv)
    h, w = map(int, a.size.split("x"))
    torch.set_num_threads(2)
    model = load_model(shipped(DEFAULT).path)
    photos = [centre_crop(load_rgb(q).pixels, h, w) for q in DEFAULT_PHOTOS[:a.photos] if q.exists()]
    budgets = BUDGETS
    if a.budgets:
        budgets = {"fast": None}
        for b in a.budgets:
            v = [float(x) for x in b.split(",")]
            steps, ahead, until, patience, lr = (*map(int, v[:3]), int(v[3]) if len(v) > 3 else 4,
                                                 v[4] if len(v) > 4 else 0.02)
            budgets[f"{steps} steps, lookahead {ahead}, iterations 1-{until or 16}, patience {patience}, lr {lr}"] = \
                (steps, ahead, until, patience, lr)
    curves, seconds = {}, {}
    for name, budget in budgets.items():
        codec = (LSTMCodec(model) if budget is None else
                 LSTMCodec(model, refine=RefineSettings(steps=budget[0], lookahead=budget[1], first=budget[2],
                                                        patience=budget[3] if len(budget) > 3 else 4,
                                                        lr=budget[4] if len(budget) > 4 else 0.02)))
        curves[name], seconds[name] = [], 0.0
        for px in photos:
            t0 = time.perf_counter()
            results = list(codec.encode_progressive(px, 16))
            seconds[name] += time.perf_counter() - t0
            curves[name].append({"bpp": [r.bpp for r in results],
                                 "ms-ssim-rgb": [msssim(px, r.reconstruction) for r in results]})
        if budget is not None:  # the fast encoder again, now: the machine's speed drifts over a long run
            t0 = time.perf_counter()
            for px in photos:
                list(LSTMCodec(model).encode_progressive(px, 16))
            seconds["fast"] = min(seconds["fast"], time.perf_counter() - t0)
        bds = [bd_rate(f, c, "ms-ssim-rgb-db") for f, c in zip(curves["fast"], curves[name])]
        rising = all(all(b > a for a, b in zip(c["ms-ssim-rgb"], c["ms-ssim-rgb"][1:])) for c in curves[name])
        print(f"{name:40s} BD-rate vs fast {np.mean(bds):+6.2f}% (per photo {', '.join(f'{b:+.1f}' for b in bds)})"
              f"  time {seconds[name] / seconds['fast']:5.1f}x fast  progressive: {'yes' if rising else 'NO'}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
