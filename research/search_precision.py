"""What the quick encoder's search keeps in bfloat16 where the codec runs in int8 (issue 45).

    python research/search_precision.py [--size 512x768] [--photos 4] [--bf16-budgets STEPS,LR ...]

The refining encoders search for better bits by gradient steps through the network, which
int8 cannot differentiate, so an int8 codec searches in a float network and sends what it
finds through its int8 one. This compares, on centre crops of training photos (never Kodak),
the quick encoder's search in float32 and under bfloat16 autocast, both in an int8 codec, and
the fast encoder: MS-SSIM (dB) BD-rate against the fast encoder in int8, and encode time.

2026-12-07, four 512x768 crops, 16 iterations: float32 -3.56% at 1.91x the fast encoder's
time, bf16 -3.65% at 1.70x (the default for int8 codecs where bf16 is native); with 2 steps
-3.15% at 1.49x, 1 step -1.87% at 1.28x. Before the search's MS-SSIM was kept in float32,
bf16 kept only -1.44%. With the search in channels-last layout: float32 -3.58% at 1.79x,
bf16 -3.54% at 1.42x.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "research"))

from block_rd import DEFAULT_PHOTOS, centre_crop  # noqa: E402

from codec.imaging.imageio import load_rgb  # noqa: E402
from codec.lstm.checkpoint import load_model  # noqa: E402
from codec.lstm.coder import LSTMCodec  # noqa: E402
from codec.lstm.encoders import ENCODERS  # noqa: E402
from codec.lstm.zoo import DEFAULT, shipped  # noqa: E402
from codec.quality.metrics import msssim, msssim_db  # noqa: E402
from codec.rd.bd import bd_rate  # noqa: E402


def run(codec, px, iterations):
    t = time.perf_counter()
    pts = [(r.bpp, msssim_db(msssim(r.reconstruction, px))) for r in codec.encode_progressive(px, iterations)]
    return pts, time.perf_counter() - t


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="512x768")
    p.add_argument("--photos", type=int, default=4)
    p.add_argument("--iterations", type=int, default=16)
    p.add_argument("--bf16-budgets", nargs="*", default=[], metavar="STEPS,LR",
                   help="also the quick encoder with these steps and learning rates, searching in bf16")
    a = p.parse_args(argv)
    h, w = map(int, a.size.split("x"))
    torch.set_num_threads(2)
    model = load_model(shipped(DEFAULT).path)
    photos = [centre_crop(load_rgb(q).pixels, h, w) for q in DEFAULT_PHOTOS[:a.photos] if q.exists()]
    configs = {"fast": (None, None), "quick, search in fp32": (ENCODERS["quick"], "fp32"),
               "quick, search in bf16": (ENCODERS["quick"], "bf16")}
    for budget in a.bf16_budgets:
        steps, lr = budget.split(",")
        configs[f"{steps} steps, lr {lr}, search in bf16"] = (
            dataclasses.replace(ENCODERS["quick"], steps=int(steps), lr=float(lr)), "bf16")
    curves, times = {}, {}
    for name, (refine, search) in configs.items():
        codec = LSTMCodec(model, refine=refine, precision="int8")
        if search:
            codec.search_precision = search
        out = [run(codec, px, a.iterations) for px in photos]
        curves[name] = [c for c, _ in out]
        times[name] = sum(t for _, t in out)
        print(f"{name}: {times[name]:.1f} s", flush=True)
    for name in configs:
        if name == "fast":
            continue
        rates = []
        for f, q in zip(curves["fast"], curves[name]):
            fa = {"bpp": [b for b, _ in f], "ms-ssim-rgb-db": [d for _, d in f]}
            qa = {"bpp": [b for b, _ in q], "ms-ssim-rgb-db": [d for _, d in q]}
            rates.append(bd_rate(fa, qa, "ms-ssim-rgb-db"))
        print(f"{name}: BD-rate {np.mean(rates):+.2f}% against the fast encoder, "
              f"{times[name] / times['fast']:.2f}x its time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
