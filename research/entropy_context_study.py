"""How many bits would other context models of the LSTM's code bits need? (A study.)

Encodes Kodak images (the test set) and crops of training photos (to fit static tables),
then prints, per iteration, the ideal code length per code bit (1.0 = raw) of:
  adaptive  per-image counts over (channel, previous iteration's bit), 8-bit probabilities
            sent as side info (codec/lstm/entropy.py's TABLE mode; ideal length);
  static X  one table per iteration, fitted on the training crops, no side info, context X:
            c (channel), cp (+ previous bit), cpp (+ the bit two iterations back), cpn
            (+ ones among its 4 neighbours in the previous iteration), cpx (+ ones among all
            channels there, 5 buckets), cps (+ left and upper neighbours in this iteration,
            which would need sequential or checkerboard decoding).
Then real chunk sizes of codec/lstm/entropy.py (bytes x 8 / bits, mode byte included):
  table     min(RAW, TABLE): the coder shipped until session 10;
  spatialN  SPATIAL mode N alone (adaptive counts over this iteration's neighbours);
  shipped   encode_iteration: the smallest of all modes.

    python research/entropy_context_study.py [--model baseline] [--kodak 8] [--train 24]
"""
from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from codec.lstm.checkpoint import load_model  # noqa: E402
from codec.lstm import entropy  # noqa: E402
from codec.lstm.coder import LSTMCodec  # noqa: E402
from codec.imaging.imageio import load_rgb  # noqa: E402
from codec.lstm.zoo import resolve_model  # noqa: E402

KINDS = ["c", "cp", "cpp", "cpn", "cpx", "cps"]


def codes_of(codec, px):
    return np.stack([r.codes > 0 for r in codec.encode_progressive(px)]).astype(np.int64)  # (T, C, h, w)


def contexts(codes, t, kind):
    b = codes[t]
    c = np.broadcast_to(np.arange(b.shape[0])[:, None, None], b.shape)
    prev = codes[t - 1] if t > 0 else np.full_like(b, 2)
    prev2 = codes[t - 2] if t > 1 else np.full_like(b, 2)
    if kind == "c":
        ctx = c
    elif kind == "cp":
        ctx = c * 3 + prev
    elif kind == "cpp":
        ctx = (c * 3 + prev) * 3 + prev2
    elif kind == "cpn":
        n = np.zeros_like(b)
        if t > 0:
            p = np.pad(codes[t - 1], ((0, 0), (1, 1), (1, 1)))
            n = p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:]
        ctx = (c * 3 + prev) * 5 + n
    elif kind == "cpx":
        s = codes[t - 1].sum(0) if t > 0 else np.zeros(b.shape[1:], np.int64)
        ctx = (c * 3 + prev) * 5 + np.broadcast_to(np.minimum(s * 5 // 33, 4), b.shape)
    else:  # "cps"
        p = np.pad(b, ((0, 0), (1, 0), (1, 0)))
        ctx = ((c * 3 + prev) * 2 + p[:, 1:, :-1]) * 2 + p[:, :-1, 1:]
    return np.asarray(ctx, np.int64).reshape(-1), b.reshape(-1).astype(np.float64)


def bits(p1, b):
    p = np.clip(p1, 1 / 256, 255 / 256)
    return float(-(b * np.log2(p) + (1 - b) * np.log2(1 - p)).sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="baseline")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    ap.add_argument("--kodak", type=int, default=8)
    ap.add_argument("--train", type=int, default=24)
    a = ap.parse_args()
    torch.set_num_threads(1)
    codec = LSTMCodec(load_model(resolve_model(a.model)), entropy=False)
    test = [codes_of(codec, load_rgb(f).pixels) for f in sorted(glob.glob(f"{a.data}/kodak/*.png"))[:a.kodak]]
    photos = sorted(glob.glob(f"{a.data}/train/**/*.jpg", recursive=True))
    train = []
    for f in np.random.default_rng(0).choice(photos, a.train, replace=False):
        px = load_rgb(f).pixels
        h, w = min(320, px.shape[0] // 16 * 16), min(320, px.shape[1] // 16 * 16)
        train.append(codes_of(codec, np.ascontiguousarray(px[:h, :w])))
    iters = test[0].shape[0]
    rows = []
    for t in range(iters):
        n = sum(c[t].size for c in test)
        adaptive = 0.0
        for c in test:
            cx, b = contexts(c, t, "cp")
            k = cx.max() + 1
            q = np.clip(np.rint(256 * np.bincount(cx, b, k) / np.maximum(np.bincount(cx, minlength=k), 1)), 1, 255)
            adaptive += bits(q[cx] / 256, b) + 8 * (32 if t == 0 else 64)
        row = [adaptive / n]
        for kind in KINDS:
            fit = [contexts(c, t, kind) for c in train]
            cx, b = np.concatenate([f[0] for f in fit]), np.concatenate([f[1] for f in fit])
            k = cx.max() + 1
            table = (np.bincount(cx, b, k) + 0.5) / (np.bincount(cx, minlength=k) + 1)
            row.append(sum(bits(table[np.minimum(x, k - 1)], y) for x, y in (contexts(c, t, kind) for c in test)) / n)
        real = np.zeros(2 + len(entropy.SPATIAL_MODES))
        for c in test:
            chunks = entropy.encode_modes(c[t], c[t - 1] if t else None)
            sizes = [min(len(chunks[entropy.RAW]), len(chunks[entropy.CODED]))]
            sizes += [len(chunks[m]) for m in entropy.SPATIAL_MODES] + [min(map(len, chunks.values()))]
            real += 8 * np.array(sizes)
        row += list(real / n)
        rows.append(row)
        print(f"iteration {t + 1:2d}: " + " ".join(f"{v:.3f}" for v in row), flush=True)
    print("mean        : " + " ".join(f"{v:.3f}" for v in np.mean(rows, 0)))
    print("columns: adaptive, static " + ", static ".join(KINDS) + ", table, "
          + ", ".join(f"spatial{m}" for m in entropy.SPATIAL_MODES) + ", shipped")


if __name__ == "__main__":
    main()
