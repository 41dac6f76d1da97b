"""Would a learned context model code the LSTM's bits in fewer bytes than today's coder?
(Issue 30, step 1: measure before building.)

Encodes crops of training photos with a shipped model (the fast encoder), trains a small
context model on most of them for a fixed time, and prints, per iteration, on the held-out
photos: the bits today's coder writes (codec/lstm/entropy.py, the real chunks, mode byte
included) and the ideal code length under the learned model (-log2 p of each bit; a range
coder with fixed-point probabilities gets within a fraction of a percent of it).

The model sees only what a decoder has when it decodes bit (c, y, x) of iteration t: the
previous iteration's bits in a 5x5 window of blocks, this iteration's bits of the blocks
before it in raster order (a masked 5x5 convolution), the channels before c in the same
block (a strictly lower-triangular mixing), and t. About 0.2 M parameters.

    python research/context_model_study.py [--model baseline-msssim] [--train 120] [--test 24] [--minutes 20]
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from codec.imaging.imageio import load_rgb  # noqa: E402
from codec.lstm.checkpoint import load_model  # noqa: E402
from codec.lstm.coder import LSTMCodec  # noqa: E402
from codec.lstm import bitstream  # noqa: E402
from codec.lstm.zoo import resolve_model  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(os.path.dirname(ROOT), "shared", "data", "train")
C, T, HIDDEN, K = 32, 16, 64, 5


def crops(paths, size=256):
    """One centred crop per photo (whole blocks, a size the encoder handles in one tile)."""
    for p in paths:
        px = load_rgb(p).pixels
        h, w = px.shape[:2]
        if h < size or w < size:
            continue
        y, x = (h - size) // 2, (w - size) // 2
        yield np.ascontiguousarray(px[y:y + size, x:x + size])


def encode(codec, images):
    """Per image: codes (T, C, h, w) in {0, 1}, and today's coded bits per iteration."""
    out = []
    for px in images:
        steps = list(codec.encode_progressive(px))
        header = codec.header(px.shape[0], px.shape[1], len(steps))
        bits = [8 * len(bitstream.segment_chunk(header, r.segment)) for r in steps]
        out.append((np.stack([r.codes > 0 for r in steps]).astype(np.float32), np.array(bits)))
    return out


class ContextModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.prev = nn.Conv2d(C, HIDDEN, K, padding=K // 2)
        self.here = nn.Conv2d(C, HIDDEN, K, padding=K // 2)
        mask = torch.ones(1, 1, K, K)
        mask[..., K // 2, K // 2:] = 0     # this block and the ones after it in its row
        mask[..., K // 2 + 1:, :] = 0      # the rows below
        self.register_buffer("mask", mask)
        self.iteration = nn.Embedding(T, HIDDEN)
        self.mid = nn.Conv2d(HIDDEN, HIDDEN, 1)
        self.out = nn.Conv2d(HIDDEN, C, 1)
        self.within = nn.Parameter(torch.zeros(C, C))  # channel c sees channels < c of its block
        self.register_buffer("lower", torch.tril(torch.ones(C, C), -1))

    def forward(self, here, prev, t):
        """here, prev: (N, C, h, w) in {0, 1}; t: (N,) iteration index. Logits (N, C, h, w)."""
        x = 2 * here - 1
        f = self.prev(2 * prev - 1) * (t > 0).float()[:, None, None, None]
        f = f + F.conv2d(x, self.here.weight * self.mask, self.here.bias, padding=K // 2)
        f = F.relu(f + self.iteration(t)[:, :, None, None])
        f = F.relu(self.mid(f)) + f
        return self.out(f) + torch.einsum("cd,ndhw->nchw", self.within * self.lower, x)


def pairs(data):
    """(here, prev, t) for every image and iteration."""
    here, prev, ts = [], [], []
    for codes, _ in data:
        for t in range(codes.shape[0]):
            here.append(codes[t])
            prev.append(codes[t - 1] if t else np.zeros_like(codes[0]))
            ts.append(t)
    return torch.from_numpy(np.stack(here)), torch.from_numpy(np.stack(prev)), torch.tensor(ts)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="baseline-msssim")
    p.add_argument("--train", type=int, default=120, help="training photos (BSDS500's train split)")
    p.add_argument("--test", type=int, default=24, help="held-out photos (BSDS500's val split)")
    p.add_argument("--minutes", type=float, default=20)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    codec = LSTMCodec(load_model(resolve_model(a.model)))
    t0 = time.time()
    train = encode(codec, crops(sorted(glob.glob(os.path.join(TRAIN, "bsds500/train/*.jpg")))[:a.train]))
    test = encode(codec, crops(sorted(glob.glob(os.path.join(TRAIN, "bsds500/val/*.jpg")))[:a.test]))
    print(f"encoded {len(train)} training and {len(test)} held-out crops of 256x256 in {time.time() - t0:.0f} s",
          flush=True)
    here, prev, ts = pairs(train)
    net = ContextModel()
    print(f"context model: {sum(q.numel() for q in net.parameters()) / 1e3:.0f} k parameters", flush=True)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    t0, step = time.time(), 0
    while time.time() - t0 < a.minutes * 60:
        i = torch.randint(0, len(ts), (32,))
        loss = F.binary_cross_entropy_with_logits(net(here[i], prev[i], ts[i]), here[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 500 == 0:
            print(f"  step {step}: {loss.item() / np.log(2):.4f} bits per code bit", flush=True)
    net.eval()
    ideal, today = np.zeros(T), np.zeros(T)
    with torch.no_grad():
        for codes, bits in test:
            h, pv, t = pairs([(codes, bits)])
            nll = F.binary_cross_entropy_with_logits(net(h, pv, t), h, reduction="none")
            ideal += nll.sum(dim=(1, 2, 3)).numpy() / np.log(2)
            today += bits
    raw = C * test[0][0].shape[2] * test[0][0].shape[3] * len(test)
    print(f"\nheld-out: {len(test)} crops, {raw} code bits per iteration in all (raw)")
    print("iteration | today's coder | learned model (ideal) | saving")
    for t in range(T):
        print(f"{t + 1:9d} | {today[t] / raw:13.4f} | {ideal[t] / raw:21.4f} | {1 - ideal[t] / today[t]:+7.1%}")
    print(f"all 16    | {today.sum() / raw / T:13.4f} | {ideal.sum() / raw / T:21.4f} | {1 - ideal.sum() / today.sum():+7.1%}")
    print(f"first 2   | {today[:2].sum() / raw / 2:13.4f} | {ideal[:2].sum() / raw / 2:21.4f} | "
          f"{1 - ideal[:2].sum() / today[:2].sum():+7.1%}")
    print("(bits per code bit; 1.0 = raw. Today's coder includes each chunk's mode byte.)")


if __name__ == "__main__":
    main()
