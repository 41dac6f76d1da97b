"""Would per-model priors help the spatial entropy modes? (A study, ideal code lengths.)

The spatial modes start every iteration's counts from nothing (KT's 1/2, 1/2), so each
of their contexts pays to learn what the model's bits always do. A prior fitted on
training photos' codes (one table per iteration, stored with the model) would start each
context where it usually ends. It also tries logistic mixing of today's three spatial
modes' predictions (weights per channel, learned stage by stage on both sides), the usual
next step of context-mixing coders. This script encodes Kodak (test) and training photos (fit),
computes the ideal adaptive code length of each context set with a Beta(a p0, a (1-p0))
prior of strength a (a = 0: today's KT; inf: the static table), takes per iteration the
smaller of today's real chunk and the estimate (+ 5 bytes: mode byte and the coder's last
word), and prints the resulting Kodak bpp and MS-SSIM BD-rate against JPEG.

    python research/entropy_prior_study.py [--model baseline-msssim] [--train 120]
"""
from __future__ import annotations

import argparse
import glob
import json
import csv
import os
import sys

import numpy as np
import torch
from scipy.special import betaln

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from codec.lstm.checkpoint import load_model  # noqa: E402
from codec.lstm import entropy  # noqa: E402
from codec.lstm.coder import LSTMCodec  # noqa: E402
from codec.rd.bd import bd_rate  # noqa: E402
from codec.imaging.imageio import load_rgb  # noqa: E402
from codec.lstm.zoo import resolve_model  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# this iteration's neighbours (dy, dx) and the previous iteration's (tag "p")
SAME = entropy._OFFSETS  # the spatial modes' own neighbour offsets
PREV = {"prev": (0, 0), "pdown": (-1, 0), "pright": (0, -1), "pup": (1, 0), "pleft": (0, 1)}
SETS = {
    "m2": ("channel", "prev", "up", "left"),
    "m3": ("prev", "up", "left", "upleft", "upright"),
    "m4": ("prev", "up", "left", "upleft", "upright", "up2", "left2"),
    "c+m3": ("channel", "prev", "up", "left", "upleft", "upright"),
    "c+m3+pdr": ("channel", "prev", "up", "left", "upleft", "upright", "pdown", "pright"),
    "c+m4": ("channel", "prev", "up", "left", "upleft", "upright", "up2", "left2"),
    "c+p2+m3": ("channel", "prev", "prev2", "up", "left", "upleft", "upright"),
}
STRENGTHS = [0, 2, 8, 32, 128, np.inf]


def shifted(b, dy, dx):
    """b (C, h, w) of -1/+1 -> value at (y - dy, x - dx), 0 outside."""
    c, h, w = b.shape
    p = np.zeros((c, h + 4, w + 4), np.int64)
    p[:, 2:2 + h, 2:2 + w] = b
    return p[:, 2 - dy:2 - dy + h, 2 - dx:2 - dx + w]


def contexts(codes, t, feats):
    """codes (T, C, h, w) of -1/+1 -> context index of each bit of iteration t, and count."""
    b = codes[t]
    ctx = np.zeros(b.shape, np.int64)
    n = 1
    for f in feats:
        if f == "channel":
            ctx = ctx * b.shape[0] + np.arange(b.shape[0])[:, None, None]
            n *= b.shape[0]
            continue
        if f in SAME:
            v = shifted(b, *SAME[f])
        elif f == "prev2":
            v = codes[t - 2] if t > 1 else np.zeros_like(b)
        else:
            v = shifted(codes[t - 1], *PREV[f]) if t > 0 else np.zeros_like(b)
        ctx = ctx * 3 + (v + 1)
        n *= 3
    return ctx.reshape(-1), n


def codes_of(codec, px):
    return np.stack([np.where(r.codes > 0, 1, -1) for r in codec.encode_progressive(px)]).astype(np.int8)


def cached(path, make):
    if os.path.exists(path):
        return list(np.load(path, allow_pickle=True)["codes"])
    out = make()
    arr = np.empty(len(out), object)
    arr[:] = out
    np.savez(path, codes=arr)
    return out


def ideal_bits(n1, n0, p0, a):
    """Code length in bits of counts n1/n0 per context under a Beta(a p0, a (1 - p0)) prior."""
    if a == 0:
        return float(-(betaln(n1 + .5, n0 + .5) - betaln(.5, .5)).sum() / np.log(2))
    if np.isinf(a):
        return float(-(n1 * np.log2(p0) + n0 * np.log2(1 - p0)).sum())
    return float(-(betaln(n1 + a * p0, n0 + a * (1 - p0)) - betaln(a * p0, a * (1 - p0))).sum() / np.log(2))


def mixed_bytes(codes, t, sets=("m2", "m3", "m4"), lr=0.02):
    """Ideal bytes of iteration t with the KT predictions of `sets` mixed in the logit
    domain (one weight vector per channel, gradient step after each wavefront stage)."""
    b = codes[t]
    C, h, w = b.shape
    ctxs = [contexts(codes, t, SETS[k]) for k in sets]
    stage = np.broadcast_to(2 * np.arange(h)[:, None] + np.arange(w), b.shape).reshape(-1)
    order = np.argsort(stage, kind="stable")
    bounds = np.searchsorted(stage[order], np.arange(stage.max() + 2))
    ones = [np.zeros(n) for _, n in ctxs]
    seen = [np.zeros(n) for _, n in ctxs]
    weights = np.zeros((C, len(sets) + 1))
    weights[:, :-1] = 1.0 / len(sets)
    chan = np.broadcast_to(np.arange(C)[:, None, None], b.shape).reshape(-1)
    flat = (b.reshape(-1) > 0).astype(np.float64)
    total = 0.0
    for d in range(len(bounds) - 1):
        idx = order[bounds[d]:bounds[d + 1]]
        if not len(idx):
            continue
        y, ch = flat[idx], chan[idx]
        ps = [(ones[m][x[idx]] + 0.5) / (seen[m][x[idx]] + 1.0) for m, (x, _) in enumerate(ctxs)]
        s = np.stack([np.log(p / (1 - p)) for p in ps] + [np.ones(len(idx))], 1)
        pm = np.clip(1 / (1 + np.exp(-(weights[ch] * s).sum(1))), 1e-4, 1 - 1e-4)
        total -= np.log2(np.where(y > 0, pm, 1 - pm)).sum()
        np.add.at(weights, ch, lr * (y - pm)[:, None] * s)
        for m, (x, n) in enumerate(ctxs):
            ones[m] += np.bincount(x[idx], weights=y, minlength=n)
            seen[m] += np.bincount(x[idx], minlength=n)
    return total / 8 + 5


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="baseline-msssim")
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--results", default=os.path.join(ROOT, "docs", "results", "kodak-baseline-msssim"))
    ap.add_argument("--train", type=int, default=120)
    ap.add_argument("--cache", default="/tmp/prior_study")
    ap.add_argument("--mix-only", action="store_true", help="stop after the mixing estimate")
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.cache, exist_ok=True)
    model = load_model(resolve_model(a.model))
    codec = LSTMCodec(model, entropy=False)
    kodak = sorted(glob.glob(f"{a.data}/kodak/*.png"))
    test = cached(f"{a.cache}/kodak_{model.model_id}.npz",
                  lambda: [codes_of(codec, load_rgb(f).pixels) for f in kodak])
    photos = sorted(glob.glob(f"{a.data}/train/**/*.jpg", recursive=True))

    def make_train():
        out = []
        for f in np.random.default_rng(0).choice(photos, a.train, replace=False):
            px = load_rgb(f).pixels
            h, w = min(320, px.shape[0] // 16 * 16), min(480, px.shape[1] // 16 * 16)
            y0, x0 = (px.shape[0] - h) // 2, (px.shape[1] - w) // 2
            out.append(codes_of(codec, np.ascontiguousarray(px[y0:y0 + h, x0:x0 + w])))
        return out
    train = cached(f"{a.cache}/train{a.train}_{model.model_id}.npz", make_train)
    T = test[0].shape[0]
    # today's real chunk sizes, per image and iteration
    real = np.array([[len(entropy.encode_iteration(c[t], c[t - 1] if t else None)) for t in range(T)]
                     for c in test])
    rows = list(csv.DictReader(open(f"{a.results}/per_image.csv")))
    lstm = {(r["image"], int(float(r["setting"]))): r for r in rows if r["codec"] == "lstm"}
    jpeg = json.load(open(f"{a.results}/../classical/jpeg.json"))["results"]
    names = [os.path.basename(f) for f in kodak]

    def bd_of(chunks):
        """chunks (images, T) bytes -> (bpp per iteration, BD-rate vs JPEG)."""
        bpp, ms = [], []
        for t in range(T):
            b, m = [], []
            for i, nm in enumerate(names):
                r = lstm[(nm, t + 1)]
                h_w = int(r["bytes"]) / float(r["bpp"]) * 8
                by = int(r["bytes"]) - real[i, :t + 1].sum() + chunks[i, :t + 1].sum()
                b.append(8 * by / h_w)
                m.append(float(r["ms_ssim_rgb"]))
            bpp.append(np.mean(b))
            ms.append(np.mean(m))
        return bpp, bd_rate(jpeg, {"bpp": bpp, "ms-ssim-rgb": ms}, "ms-ssim-rgb-db")

    bpp, bd = bd_of(real)
    mix = np.minimum(real, [[mixed_bytes(c, t) for t in range(T)] for c in test])
    bpp_x, bd_x = bd_of(mix)
    print(f"mixing m2, m3, m4 (with today's modes): bpp@1,2,16 {bpp_x[0]:.4f} {bpp_x[1]:.4f} "
          f"{bpp_x[15]:.4f}  BD {bd_x:+.2f}%; {100 * (1 - mix.sum() / real.sum()):.2f}% fewer bytes", flush=True)
    print(f"today: bpp@1,2,16 {bpp[0]:.4f} {bpp[1]:.4f} {bpp[15]:.4f}  BD {bd:+.2f}%", flush=True)
    if a.mix_only:
        return
    for name, feats in SETS.items():
        est = {s: np.zeros((len(test), T)) for s in STRENGTHS}
        for t in range(T):
            fit = [contexts(c, t, feats) for c in train]
            n = fit[0][1]
            ones = sum(np.bincount(x, weights=(c[t].reshape(-1) > 0), minlength=n) for (x, _), c in zip(fit, train))
            seen = sum(np.bincount(x, minlength=n) for x, _ in fit)
            p0 = (ones + 0.5) / (seen + 1.0)
            for i, c in enumerate(test):
                x, _ = contexts(c, t, feats)
                n1 = np.bincount(x, weights=(c[t].reshape(-1) > 0), minlength=n)
                n0 = np.bincount(x, minlength=n) - n1
                for s in STRENGTHS:
                    est[s][i, t] = ideal_bits(n1, n0, p0, s) / 8 + 5
        for s in STRENGTHS:
            alone = est[s]
            bpp_a, bd_a = bd_of(alone)
            bpp_m, bd_m = bd_of(np.minimum(alone, real))
            print(f"{name:10s} a={s:>5}: alone bpp@1,2,16 {bpp_a[0]:.4f} {bpp_a[1]:.4f} {bpp_a[15]:.4f} "
                  f"BD {bd_a:+.2f}% | with today's modes {bpp_m[0]:.4f} {bpp_m[1]:.4f} {bpp_m[15]:.4f} "
                  f"BD {bd_m:+.2f}%", flush=True)


if __name__ == "__main__":
    main()
