"""Where the LSTM codec's bits go: per 16x16 block and iteration, the bits the entropy coder
spends and the distortion they remove (issue 20, step 1). Training photos only, never Kodak.

    python research/block_rd.py [PHOTO ...] [--crop 768x512] [--out research/results/block_rd.json]

Default photos: wikipedia_photos 001-004 and BSDS500 train 100075, 100080 from ../shared/data/train
(centre crops). For each iteration t it prints:
- bpp of the iteration (real coded bits, from codec.lstm.entropy.block_bits);
- the share of that rate spent on blocks whose MSE falls by less than 1% of their own error
  ("idle" blocks), and on blocks whose MSE rises;
- how concentrated the gain is: the fewest blocks holding 90% of the MSE removed, and the
  share of the rate those blocks cost;
- the image's MS-SSIM and PSNR after the iteration;
- the correlation between a block's bits and its MSE gain.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from codec.lstm.checkpoint import load_model  # noqa: E402
from codec.lstm.coder import LSTMCodec  # noqa: E402
from codec.lstm.entropy import block_bits  # noqa: E402
from codec.imaging.imageio import load_rgb  # noqa: E402
from codec.quality.metrics import msssim, psnr  # noqa: E402
from codec.lstm.zoo import DEFAULT, shipped  # noqa: E402

TRAIN = ROOT.parent / "shared" / "data" / "train"
DEFAULT_PHOTOS = [TRAIN / "wikipedia_photos" / f"{i:03d}.png" for i in range(1, 5)] + \
    [TRAIN / "bsds500" / "train" / f"{n}.jpg" for n in ("100075", "100080")]


def block_mse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(H/16, W/16) mean squared error of each 16x16 block (H, W multiples of 16)."""
    d = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    h, w = d.shape[0] // 16, d.shape[1] // 16
    return d[:h * 16, :w * 16].reshape(h, 16, w, 16, 3).mean(axis=(1, 3, 4))


def centre_crop(px: np.ndarray, h: int, w: int) -> np.ndarray:
    h, w = min(h, px.shape[0] // 16 * 16), min(w, px.shape[1] // 16 * 16)
    top, left = (px.shape[0] - h) // 2, (px.shape[1] - w) // 2
    return np.ascontiguousarray(px[top:top + h, left:left + w])


def study(codec: LSTMCodec, px: np.ndarray) -> list[dict]:
    rows, prev_codes = [], None
    prev_err = block_mse(px, np.full_like(px, 128))  # before iteration 1: a flat grey image
    for r in codec.encode_progressive(px, 16):
        bits = block_bits(r.codes, prev_codes)
        err = block_mse(px, r.reconstruction)
        gain = prev_err - err
        total_bits, total_gain = bits.sum(), gain[gain > 0].sum()
        idle = gain < 0.01 * prev_err
        order = np.argsort(-gain, axis=None)
        cum = np.cumsum(np.maximum(gain.reshape(-1)[order], 0))
        n90 = int(np.searchsorted(cum, 0.9 * total_gain) + 1) if total_gain > 0 else 0
        rows.append({
            "iteration": r.iteration,
            "bpp": float(total_bits / px.shape[0] / px.shape[1]),
            "ms_ssim": msssim(px, r.reconstruction), "psnr": psnr(px, r.reconstruction),
            "idle_block_share": float(idle.mean()), "idle_rate_share": float(bits[idle].sum() / total_bits),
            "worse_rate_share": float(bits[gain < 0].sum() / total_bits),
            "blocks_for_90pct_gain": n90 / gain.size,
            "rate_share_of_those": float(bits.reshape(-1)[order[:n90]].sum() / total_bits) if n90 else 0.0,
            # nan where every block costs the same (an iteration stored raw)
            "bits_gain_correlation": float(np.corrcoef(bits.reshape(-1), gain.reshape(-1))[0, 1])
            if bits.std() > 0 else float("nan"),
            "mean_bits_per_block": float(bits.mean()),
        })
        prev_codes, prev_err = r.codes, err
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("photos", nargs="*", type=Path)
    p.add_argument("--crop", default="768x512", help="WIDTHxHEIGHT of the centre crop")
    p.add_argument("--out", type=Path, default=ROOT / "research" / "results" / "block_rd.json")
    a = p.parse_args(argv)
    photos = a.photos or [q for q in DEFAULT_PHOTOS if q.exists()]
    if not photos:
        print("no photos: pass some, or put ../shared/data/train beside the checkout", file=sys.stderr)
        return 2
    w, h = map(int, a.crop.split("x"))
    codec = LSTMCodec(load_model(shipped(DEFAULT).path))
    results = {}
    for q in photos:
        px = centre_crop(load_rgb(q).pixels, h, w)
        results[f"{q.parent.name}/{q.name}"] = study(codec, px)
        print(f"{q.name}: {px.shape[1]}x{px.shape[0]}", file=sys.stderr)
    keys = ["bpp", "ms_ssim", "psnr", "idle_block_share", "idle_rate_share", "worse_rate_share",
            "blocks_for_90pct_gain", "rate_share_of_those", "bits_gain_correlation"]
    print("mean over photos, per iteration:")
    print("it  " + " ".join(f"{k[:14]:>14s}" for k in keys))
    for t in range(16):
        vals = [np.nanmean([rows[t][k] for rows in results.values()]) for k in keys]
        print(f"{t + 1:2d}  " + " ".join(f"{v:14.4f}" for v in vals))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"model": codec.model.model_id, "crop": a.crop, "photos": results}, indent=1))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
