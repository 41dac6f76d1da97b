"""A learned context model for the LSTM's code bits: P(bit = +1) for every bit of an
iteration, from what the decoder already has.

What it sees when it predicts bit (c, y, x) of iteration t: the previous iteration's bits in
a 3x3 window of blocks, t, and this iteration's bits decoded in earlier passes. An iteration
is coded in PASSES passes: the channels in GROUPS groups, each group in the two colours of a
checkerboard of blocks, so a pass sees the earlier groups everywhere and, for its own group,
the other colour's neighbours. Every pass decodes in one vectorised call, so decoding costs
PASSES small network evaluations per iteration, not one per bit.

Encoder and decoder must compute the same probabilities to the last bit, on any CPU. The
shipped form (`IntegerContext`) is an integer network: integer weights, activations floored
to multiples of 1/256, and a stored table from logit to a 16-bit probability. It runs in
float64, where every product and sum of these integers is exact (all stay below 2^45), so
the result does not depend on the order in which a BLAS adds, nor on the CPU. Training
(codec/train/context.py) optimises a float network of the same shape and quantizes it.
Numpy only: `lstm-codec info` and the entropy coder do not import torch.
"""
from __future__ import annotations

import hashlib

import numpy as np

GROUPS = 4              # channel groups, coded one after the other
PASSES = 2 * GROUPS     # each group in two checkerboard colours
ITERATIONS = 16         # iteration embeddings; later iterations use the last one
ACT = 256               # activations are integers in units of 1/ACT
ACT_SHIFT = 8           # log2(ACT)
WEIGHT_MAX = 2047       # integer weights lie in [-WEIGHT_MAX, WEIGHT_MAX]
LOGIT_RANGE = 16        # the probability table covers logits in [-16, 16], in units of 1/ACT
PROB_ONE = 1 << 16      # probabilities are integers out of 2^16, in [1, 2^16 - 1]
TENSORS = ("prev_w", "here_w", "prev_b", "iteration", "step", "mid_w", "mid_b", "out_w", "out_b",
           "shifts", "table")


def pass_masks(shape: tuple) -> np.ndarray:
    """(PASSES, C, h, w) bool: which bits each pass codes. Every bit is in exactly one pass."""
    c, h, w = shape
    group = (np.arange(c) * GROUPS) // c
    colour = (np.arange(h)[:, None] + np.arange(w)[None, :]) % 2
    masks = np.zeros((PASSES, c, h, w), bool)
    for k in range(PASSES):
        masks[k] = (group == k // 2)[:, None, None] & (colour == k % 2)[None]
    return masks


def known_masks(masks: np.ndarray) -> np.ndarray:
    """(PASSES, C, h, w) bool: the bits decoded before each pass."""
    return np.cumsum(masks, axis=0) - masks > 0


def probability_table() -> np.ndarray:
    """P(bit = +1) x 2^16 for each integer logit in [-16 ACT, 16 ACT] (stored with the model,
    so that no CPU's exp() is ever asked again)."""
    z = np.arange(-LOGIT_RANGE * ACT, LOGIT_RANGE * ACT + 1) / ACT
    return np.clip(np.rint(PROB_ONE / (1 + np.exp(-z))), 1, PROB_ONE - 1).astype(np.int64)


STRIP = 512  # blocks per strip: the working arrays stay under a megabyte at any image size
EXACT32 = 2.0 ** 24  # below this, float32 sums of integers are exact too (and twice as fast)


def _neighbourhoods(h: int, w: int, colour: int) -> list[np.ndarray]:
    """Strip by strip, the flat indices into a (h + 2, w + 2) padded grid of the 3x3
    neighbourhood of each block of this checkerboard colour, (9, N) in a convolution
    weight's (3, 3) order, blocks in row-major order."""
    rows = max(1, STRIP // w)
    out = []
    for y0 in range(0, h, rows):
        yy, xx = np.mgrid[y0:min(y0 + rows, h), 0:w]
        pick = (yy + xx) % 2 == colour
        ys, xs = yy[pick], xx[pick]
        out.append(np.stack([(ys + dy) * (w + 2) + xs + dx for dy in range(3) for dx in range(3)]))
    return out


def _floor_shift(x: np.ndarray, s: int) -> np.ndarray:
    return np.floor(x * 2.0 ** -s)  # times a power of two, then floor: both exact


class IntegerContext:
    """The context model as shipped: integer arrays (stored exactly) and the probability table."""

    def __init__(self, tensors: dict):
        missing = [k for k in TENSORS if k not in tensors]
        if missing:
            raise ValueError(f"the context model lacks {', '.join(missing)}")
        self.tensors = {k: np.asarray(tensors[k], np.int64) for k in TENSORS}
        t = {k: v.astype(np.float64) for k, v in self.tensors.items()}
        self.s1, _, self.s2, self.s3 = (int(s) for s in self.tensors["shifts"])
        self.bits = self.tensors["prev_w"].shape[1]
        self.w_prev = t["prev_w"].reshape(len(t["prev_w"]), -1)
        self.w_here = t["here_w"].reshape(len(t["here_w"]), -1)
        self.w1 = np.concatenate([self.w_prev, self.w_here], 1)  # one product over cat(prev, here)
        self.b1, self.embed_t, self.embed_k = t["prev_b"], t["iteration"], t["step"]
        self.w2, self.b2 = t["mid_w"].reshape(len(t["mid_w"]), -1), t["mid_b"]
        self.w3, self.b3 = t["out_w"].reshape(len(t["out_w"]), -1), t["out_b"]
        self.table = self.tensors["table"]
        if self.table.shape != (2 * LOGIT_RANGE * ACT + 1,) or self.table.min() < 1 or self.table.max() >= PROB_ONE:
            raise ValueError("the context model's probability table is malformed")
        bounds = self._layer_bounds()
        if max(bounds) >= 2.0 ** 52:
            raise ValueError("the context model's weights are too large to compute exactly")
        # each layer in float32 where its sums stay below 2^24, else float64: exact either way
        self.dtypes = [np.float32 if bound < EXACT32 else np.float64 for bound in bounds]
        d1, d2, d3 = self.dtypes
        self._w1 = {False: self.w1.astype(d1), True: self.w_here.astype(d1)}  # True: iteration 1, no previous bits
        self._w2, self._b2 = self.w2.astype(d2), self.b2[:, None].astype(d2)
        self._w3, self._b3 = self.w3.astype(d3), self.b3[:, None].astype(d3)
        self._strips = {}

    def _layer_bounds(self) -> tuple[float, float, float]:
        """The largest sum each layer can reach with inputs of -1/+1, from the weights."""
        a = lambda x: np.abs(x).astype(np.float64)  # noqa: E731
        acc1 = (a(self.w_prev).sum(1) + a(self.w_here).sum(1) + a(self.b1) + a(self.embed_t).max(0)
                + a(self.embed_k).max(0)).max()
        a1 = acc1 * 2.0 ** -(self.s1 - ACT_SHIFT)
        acc2 = a(self.w2).sum(1).max() * a1 + a(self.b2).max()
        a2 = acc2 * 2.0 ** -self.s2 + a1
        acc3 = a(self.w3).sum(1).max() * a2 + a(self.b3).max()
        return acc1, acc2, acc3

    @property
    def context_id(self) -> str:
        """16 hex digits of SHA-256 over the integer arrays: part of a model's id."""
        h = hashlib.sha256()
        for name in TENSORS:
            h.update(name.encode())
            h.update(np.ascontiguousarray(self.tensors[name]).astype("<i8").tobytes())
        return h.hexdigest()[:16]

    def pass_logits(self, prev: np.ndarray | None, here: np.ndarray, t: int, k: int) -> np.ndarray:
        """Integer logits (units of 1/ACT) of the bits pass k of iteration t (0-based) codes,
        in the order `here[pass_masks(here.shape)[k]]` lists them. `prev`: the previous
        iteration's bits (-1/+1; None in iteration 1); `here`: this iteration's as -1/+1 and
        0 where pass k does not know them yet; both (C, h, w), any integer or float type.
        Only the pass's blocks and channels are computed, strip by strip."""
        c, h, w = here.shape
        group = (np.arange(c) * GROUPS) // c == k // 2
        if (h, w, k % 2) not in self._strips:
            self._strips[(h, w, k % 2)] = _neighbourhoods(h, w, k % 2)
        pad = lambda x: np.pad(np.asarray(x, np.int8), ((0, 0), (1, 1), (1, 1))).reshape(c, -1)  # noqa: E731
        grids = [pad(here)] if prev is None else [pad(np.where(np.asarray(prev) > 0, 1, -1)), pad(here)]
        d1, d2, d3 = self.dtypes
        w1 = self._w1[prev is None]
        bias = (self.b1 + self.embed_t[min(t, ITERATIONS - 1)] + self.embed_k[k])[:, None].astype(d1)
        w3, b3 = self._w3[group], self._b3[group]
        out = []
        for idx in self._strips[(h, w, k % 2)]:
            win = np.concatenate([g[:, idx.reshape(-1)].reshape(c * 9, -1) for g in grids]).astype(d1)
            a1 = np.maximum(_floor_shift(w1 @ win + bias, self.s1 - ACT_SHIFT), 0).astype(d2)
            a2 = np.maximum(_floor_shift(self._w2 @ a1 + self._b2, self.s2), 0) + a1
            out.append(_floor_shift(w3 @ a2.astype(d3) + b3, self.s3))
        return np.concatenate(out, 1).reshape(-1).astype(np.float64) if out else np.zeros(0)

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """P(bit = +1) of integer logits, from the stored table: exact multiples of 2^-16."""
        i = np.clip(logits, -LOGIT_RANGE * ACT, LOGIT_RANGE * ACT).astype(np.int64) + LOGIT_RANGE * ACT
        return self.table[i] / PROB_ONE
