"""Would spatially adaptive bit rates pay (issue 30, point 3)? Measured on training photos.

The rule measured, as a format would define it: after each iteration the encoder may stop a
block (a 1-bit flag per still-active block, counted raw); a stopped block gets zero codes in
every later iteration (the decoder's "nothing sent") and its pixels keep the reconstruction
of its last iteration. The encoder stops a block once its MSE is at most a target TAU, so
each TAU is a target quality. Both sides run the same network steps, so the encoder knows
exactly what the decoder will show.

Rate: the learned context model's ideal code length of the active blocks' bits (the default
model's, `codec.lstm.entropy.block_bits`: per block, as if all blocks were sent; a coder that
knew the mask could only do better) plus the flags. Quality: MS-SSIM of the whole picture.
For each TAU every iteration is an RD point; the adaptive curve is the upper envelope of the
points of all TAUs, compared by BD-rate (MS-SSIM dB, pchip) with the plain progressive curve.

    python research/adaptive_rates.py [--taus 400,200,100,50,25,12] [PHOTO ...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "research"))

from block_rd import DEFAULT_PHOTOS, block_mse, centre_crop  # noqa: E402

from codec.imaging.imageio import load_rgb  # noqa: E402
from codec.imaging.pixels import to_tensor, to_uint8  # noqa: E402
from codec.lstm import entropy  # noqa: E402
from codec.lstm.checkpoint import load_model  # noqa: E402
from codec.lstm.zoo import DEFAULT, shipped  # noqa: E402
from codec.quality.metrics import msssim  # noqa: E402
from codec.rd.bd import bd_rate  # noqa: E402


@torch.no_grad()
def run(model, px: np.ndarray, tau: float | None, iterations: int = 16) -> list[tuple[float, float]]:
    """(bpp, MS-SSIM) after each iteration; tau None: no block ever stops."""
    net = model.net
    h, w = px.shape[:2]
    x = to_tensor(px)
    enc, dec = net.init_states((1, 3, h, w))
    recon, prev, active = None, None, np.ones((h // 16, w // 16), bool)
    bits, out = 0.0, []
    for t in range(iterations):
        residual = x if recon is None else x - recon
        y, enc = net.code_values(residual, enc, t=t)
        codes = net.binarizer.binarize(y, stochastic=False)
        c = codes[0].numpy()
        spent = entropy.block_bits(c, prev, None, model.context, t)
        bits += spent[active].sum() + (active.sum() if t and tau is not None else 0)
        mask = torch.from_numpy(np.repeat(np.repeat(active, 16, 0), 16, 1))[None, None]
        codes = codes * torch.from_numpy(active)[None, None]
        new, dec = net.decode_step(codes, recon, dec, t)
        recon = new if recon is None else torch.where(mask, new, recon)
        prev = c
        picture = to_uint8(recon)
        out.append((bits / (h * w), msssim(px, picture)))
        if tau is not None:
            active &= block_mse(px, picture) > tau
    return out


def envelope(points):
    """The upper-left hull of (bpp, MS-SSIM) points: each kept point has the best quality
    of any point at its rate or below."""
    pts = sorted(points)
    hull, best = [], -1.0
    for r, q in pts:
        if q > best:
            hull.append((r, q))
            best = q
    return hull


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("photos", nargs="*", type=Path, default=DEFAULT_PHOTOS)
    p.add_argument("--taus", default="400,200,100,50,25,12", help="block MSE targets (8-bit scale)")
    a = p.parse_args()
    model = load_model(shipped(DEFAULT).path)
    taus = [float(v) for v in a.taus.split(",")]
    print(f"{model.name} (id {model.model_id}); photos: {', '.join(ph.name for ph in a.photos)}")
    print("photo | BD-rate of the adaptive envelope vs plain (MS-SSIM dB) | plain bpp/MS-SSIM at 16 | "
          + " | ".join(f"TAU {t:g}: bpp/MS-SSIM at 16" for t in taus))
    rates = []
    for ph in a.photos:
        px = centre_crop(load_rgb(ph).pixels, 512, 768)
        plain = run(model, px, None)
        runs = {tau: run(model, px, tau) for tau in taus}
        hull = envelope([pt for r in runs.values() for pt in r] + plain)
        r0, q0 = zip(*plain)
        r1, q1 = zip(*hull)
        bd = bd_rate({"bpp": list(r0), "ms-ssim-rgb": list(q0)}, {"bpp": list(r1), "ms-ssim-rgb": list(q1)},
                     "ms-ssim-rgb-db")
        rates.append(bd)
        print(f"{ph.name} | {bd:+.2f}% | {plain[-1][0]:.3f}/{plain[-1][1]:.4f} | "
              + " | ".join(f"{runs[t][-1][0]:.3f}/{runs[t][-1][1]:.4f}" for t in taus), flush=True)
    print(f"mean BD-rate of adaptive stopping over {len(rates)} photos: {np.mean(rates):+.2f}% "
          f"(range {min(rates):+.2f}% to {max(rates):+.2f}%)")


if __name__ == "__main__":
    main()
