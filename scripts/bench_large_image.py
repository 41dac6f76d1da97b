"""Encode and decode a large photo in tiles and report time and peak memory, and the time
per pixel against the same encoder on the Kodak picture it is made of.

    python scripts/bench_large_image.py [--size 6144x4096] [--iterations 2] [--encoder quick] [--tile 1024]

The test image is a Kodak picture (or the built-in sample) tiled up to the size asked for,
so the network sees photo content. Peak RSS comes from the kernel (ru_maxrss); it covers the
Kodak run too, which comes first and is smaller.
"""
import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from codec.lstm.checkpoint import load_model  # noqa: E402
from codec.lstm.coder import DEFAULT_TILE, LSTMCodec  # noqa: E402
from codec.lstm.encoders import DEFAULT_ENCODER, ENCODERS  # noqa: E402
from codec.imaging.imageio import load_rgb  # noqa: E402
from codec.lstm.options import PRECISION_CHOICES, LSTMOptions  # noqa: E402
from codec.lstm.zoo import model_help, resolve_model  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", default="6144x4096")
    p.add_argument("--iterations", type=int, default=16)
    p.add_argument("--encoder", choices=list(ENCODERS), default=DEFAULT_ENCODER)
    p.add_argument("--tile", type=int, default=DEFAULT_TILE)
    p.add_argument("--model", default=None, help=model_help())
    p.add_argument("--precision", choices=PRECISION_CHOICES, default=LSTMOptions().precision,
                   help="the network's arithmetic (default: auto, as lstm-codec encode)")
    a = p.parse_args()
    w, h = map(int, a.size.split("x"))
    src = ROOT.parent / "shared/data/kodak/kodim23.png"
    base = load_rgb(src if src.exists() else ROOT / "resources/samples/coffee.png").pixels
    reps = (-(-h // base.shape[0]), -(-w // base.shape[1]), 1)
    img = np.ascontiguousarray(np.tile(base, reps)[:h, :w])
    codec = LSTMCodec(load_model(resolve_model(a.model)), a.tile, refine=ENCODERS[a.encoder], precision=a.precision)
    t0 = time.perf_counter()
    codec.encode(base, a.iterations)
    kodak = (time.perf_counter() - t0) / (base.shape[0] * base.shape[1]) * 1e6
    print(f"{a.encoder} encoder, {codec.precision}, {a.iterations} iterations: {kodak:.2f} s per megapixel on the "
          f"{base.shape[1]}x{base.shape[0]} picture")
    print(f"image {w}x{h} ({w * h / 1e6:.1f} MP), {img.nbytes / 1e6:.0f} MB as RGB, "
          f"tiles of {codec.tile_for(h, w)} pixels")
    t0 = time.perf_counter()
    data, rec = codec.encode(img, a.iterations, progress=lambda i, n: print(f"\r  encoding tile {i}/{n}", end=""))
    t1 = time.perf_counter()
    per_mp = (t1 - t0) / (w * h) * 1e6
    print(f"\nencoded {len(data)} bytes ({8 * len(data) / (w * h):.3f} bpp) in {t1 - t0:.1f} s: {per_mp:.2f} s "
          f"per megapixel, {per_mp / kodak:.2f}x the small picture's; peak RSS {peak_mb():.0f} MB")
    dec = codec.decode(data, progress=lambda i, n: print(f"\r  decoding tile {i}/{n}", end=""))
    t2 = time.perf_counter()
    print(f"\ndecoded in {t2 - t1:.1f} s; identical to the encoder's reconstruction: {np.array_equal(dec, rec)}; "
          f"peak RSS {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
