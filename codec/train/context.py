"""Training a model's learned context model (codec/lstm/context.py) on training photos' codes.

The LSTM's weights stay frozen: the photos are encoded once with the encoder files are
written with, and the context model learns to predict those bits. Held-out photos measure
it against today's adaptive coder (the real chunks of codec/lstm/entropy.py, mode byte
included), per iteration.

    python -m codec.train.context --model baseline-msssim --minutes 30
"""
from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from torch import nn

from codec.base.atomic import atomic_path
from codec.lstm.context import (ACT, ITERATIONS, PASSES, WEIGHT_MAX, IntegerContext, known_masks, pass_masks,
                                probability_table)

CROP = 16  # blocks: training crops of 256x256 pixels
HIDDEN = 64


class ContextNet(nn.Module):
    """The float network training optimises; `quantize` makes the shipped integer one, which
    computes the same function (codec/lstm/context.py). Inputs: code bits as -1/+1, 0 where
    not known."""

    def __init__(self, bits: int = 32, hidden: int = HIDDEN):
        super().__init__()
        self.prev = nn.Conv2d(bits, hidden, 3, padding=1)
        self.here = nn.Conv2d(bits, hidden, 3, padding=1, bias=False)
        self.iteration = nn.Parameter(torch.zeros(ITERATIONS, hidden))
        self.step = nn.Parameter(torch.zeros(PASSES, hidden))
        self.mid = nn.Conv2d(hidden, hidden, 1)
        self.out = nn.Conv2d(hidden, bits, 1)

    def forward(self, here, prev, t, k):
        """here: (N, C, h, w) this iteration's known bits; prev: the previous iteration's
        (zeros in iteration 1); t, k: (N,) iteration and pass. -> logits (N, C, h, w)."""
        f = self.prev(prev) + self.here(here)
        f = F.relu(f + (self.iteration[t.clamp(max=ITERATIONS - 1)] + self.step[k])[:, :, None, None])
        f = F.relu(self.mid(f)) + f
        return self.out(f)


def quantize(net: ContextNet) -> IntegerContext:
    """The integer model: each layer's weights scaled by the largest power of two that keeps
    them within WEIGHT_MAX; biases in the units of the sums they join."""
    def shift(*ws):
        peak = max(float(w.detach().abs().max()) for w in ws) or 1.0
        return int(np.floor(np.log2(WEIGHT_MAX / peak)))

    def q(x, scale):
        return np.rint(x.detach().double().numpy() * scale).astype(np.int64)

    s1, s2, s3 = shift(net.prev.weight, net.here.weight), shift(net.mid.weight), shift(net.out.weight)
    return IntegerContext({
        # inputs are -1/0/+1, so the first layer's sums are in units of 2^-s1
        "prev_w": q(net.prev.weight, 2.0 ** s1), "here_w": q(net.here.weight, 2.0 ** s1),
        "prev_b": q(net.prev.bias, 2.0 ** s1), "iteration": q(net.iteration, 2.0 ** s1),
        "step": q(net.step, 2.0 ** s1),
        # later layers take activations in units of 1/ACT
        "mid_w": q(net.mid.weight, 2.0 ** s2), "mid_b": q(net.mid.bias, ACT * 2.0 ** s2),
        "out_w": q(net.out.weight, 2.0 ** s3), "out_b": q(net.out.bias, ACT * 2.0 ** s3),
        "shifts": np.array([s1, s1, s2, s3]), "table": probability_table(),
    })


def photos(root: Path) -> tuple[list[str], list[str]]:
    """Training and held-out photos: the first 40 large photos (cropped to Kodak's size) and
    BSDS500's train and test splits to learn from; the other large photos and BSDS500's val
    split to measure on. Large photos first, so that --train N and --test N take some."""
    bsds = lambda split: sorted(glob.glob(str(root / "bsds500" / split / "*.jpg")))  # noqa: E731
    large = sorted(glob.glob(str(root / "wikipedia_photos" / "*.png")))
    return large[:40] + bsds("train") + bsds("test"), large[40:] + bsds("val")


def load_photo(path: str, side: tuple[int, int] = (512, 768)) -> np.ndarray:
    """The photo, or its centre 768x512 (Kodak's size) when it is larger."""
    from codec.imaging.imageio import load_rgb
    px = load_rgb(path).pixels
    h, w = px.shape[:2]
    if h > w:
        side = side[::-1]
    if h <= side[0] or w <= side[1]:
        return px
    y, x = (h - side[0]) // 2, (w - side[1]) // 2
    return np.ascontiguousarray(px[y:y + side[0], x:x + side[1]])


def encode_photos(codec, paths: list[str], cache: Path, log=print) -> list[dict]:
    """Per photo: its codes (T, C, h, w) as int8 +-1 and today's chunk bits per iteration,
    cached in `cache` (one .npz per photo) so that later runs skip the encoding."""
    from codec.lstm import bitstream
    cache.mkdir(parents=True, exist_ok=True)
    out, t0 = [], time.time()
    for i, p in enumerate(paths):
        f = cache / (Path(p).stem + ".npz")
        if not f.exists():
            px = load_photo(p)
            steps = list(codec.encode_progressive(px))
            header = codec.header(px.shape[0], px.shape[1], len(steps))
            bits = [8 * len(bitstream.segment_chunk(header, r.segment)) for r in steps]
            codes = np.stack([np.where(r.codes > 0, 1, -1) for r in steps]).astype(np.int8)
            with atomic_path(f) as tmp:
                np.savez(tmp, codes=codes, bits=np.array(bits))
        with np.load(f) as z:
            out.append({"codes": z["codes"], "bits": z["bits"]})
        if (i + 1) % 10 == 0:
            log(f"  {i + 1} of {len(paths)} photos encoded ({time.time() - t0:.0f} s)")
    return out


def _batch(data: list[dict], n: int, rng: np.random.Generator):
    """n random (crop, iteration, pass): the pass's known bits, the previous iteration's,
    the targets in {0, 1}, the pass's mask, t and k."""
    shape = (data[0]["codes"].shape[1], CROP, CROP)
    masks = pass_masks(shape)
    # a crop at an odd offset sees the image's checkerboard with its colours swapped
    swapped = masks.reshape(PASSES // 2, 2, *shape)[:, ::-1].reshape(masks.shape)
    by_parity = [(masks, known_masks(masks)), (swapped, known_masks(swapped))]
    here, prev, target, mask, ts, ks = [], [], [], [], [], []
    for _ in range(n):
        codes = data[rng.integers(len(data))]["codes"]
        T, _, h, w = codes.shape
        y, x = rng.integers(0, h - CROP + 1), rng.integers(0, w - CROP + 1)
        t, k = rng.integers(T), rng.integers(PASSES)
        cur = codes[t, :, y:y + CROP, x:x + CROP].astype(np.float32)
        passes, known = by_parity[(y + x) % 2]
        here.append(cur * known[k])
        prev.append(codes[t - 1, :, y:y + CROP, x:x + CROP].astype(np.float32) if t else np.zeros_like(cur))
        target.append(cur > 0)
        mask.append(passes[k])
        ts.append(t)
        ks.append(k)
    f = lambda a: torch.from_numpy(np.stack(a)).float()  # noqa: E731
    return f(here), f(prev), f(target), f(mask), torch.tensor(ts), torch.tensor(ks)


def train_context(data: list[dict], minutes: float, seed: int = 0, batch: int = 32, lr: float = 2e-3,
                  log=print) -> ContextNet:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = ContextNet(bits=data[0]["codes"].shape[1])
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    start = time.time()
    step, running = 0, []
    while (elapsed := time.time() - start) < minutes * 60:
        for g in opt.param_groups:  # the last tenth at a tenth of the rate settles the weights
            g["lr"] = lr if elapsed < 0.9 * minutes * 60 else lr / 10
        here, prev, target, mask, t, k = _batch(data, batch, rng)
        nll = F.binary_cross_entropy_with_logits(net(here, prev, t, k), target, reduction="none")
        loss = (nll * mask).sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        running.append(loss.item() / np.log(2))
        if step % 500 == 0:
            log(f"  step {step}: {np.mean(running):.4f} bits per code bit")
            running = []
    log(f"trained {step} steps of {batch} crops")
    return net.eval()


def code_length(ctx: IntegerContext, codes: np.ndarray) -> np.ndarray:
    """Ideal bits (-log2 p, p from the integer model's table) per iteration of one photo."""
    from codec.lstm.entropy import pass_probabilities
    out = np.zeros(codes.shape[0])
    for t in range(codes.shape[0]):
        bits = codes[t] > 0
        masks, p = pass_probabilities(bits, codes[t - 1] if t else None, ctx, t)
        out[t] = sum(-np.log2(np.where(bits[m], pk, 1 - pk)).sum() for m, pk in zip(masks, p))
    return out


def report(ctx: IntegerContext, test: list[dict], log=print) -> dict:
    T = test[0]["codes"].shape[0]
    ideal, today, raw = np.zeros(T), np.zeros(T), 0
    for d in test:
        ideal += code_length(ctx, d["codes"])
        today += d["bits"]
        raw += int(np.prod(d["codes"].shape[1:]))
    log("iteration | today's coder | learned (ideal) | saving   (bits per code bit; 1.0 = raw)")
    for t in range(T):
        log(f"{t + 1:9d} | {today[t] / raw:13.4f} | {ideal[t] / raw:15.4f} | {1 - ideal[t] / today[t]:+7.1%}")
    log(f"all {T:5d} | {today.sum() / raw / T:13.4f} | {ideal.sum() / raw / T:15.4f} | {1 - ideal.sum() / today.sum():+7.1%}")
    return {"today_bits": today.tolist(), "ideal_bits": ideal.tolist(), "raw_bits_per_iteration": raw}


def main(argv=None) -> int:
    from codec.lstm.checkpoint import load_model, with_context
    from codec.lstm.coder import LSTMCodec
    from codec.lstm.encoders import DEFAULT_ENCODER, ENCODERS
    from codec.lstm.zoo import resolve_model
    root = Path(__file__).resolve().parents[3] / "shared" / "data" / "train"
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="the LSTM model whose codes to learn (default: the default model)")
    p.add_argument("--data", default=str(root), help="training photos (BSDS500 and the large photos)")
    p.add_argument("--train", type=int, default=0, help="use only the first N training photos (0: all)")
    p.add_argument("--test", type=int, default=0, help="use only the first N held-out photos (0: all)")
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--cache", default=str(Path.home() / ".cache" / "lstm-compare" / "context-codes"))
    p.add_argument("--out", default=None, help="write the model with this context model added, as a new model file (.pt)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    model = load_model(resolve_model(a.model))
    codec = LSTMCodec(model, refine=ENCODERS[DEFAULT_ENCODER])
    train_paths, test_paths = photos(Path(a.data))
    if a.train:
        train_paths = train_paths[:a.train]
    if a.test:
        test_paths = test_paths[:a.test]
    cache = Path(a.cache) / model.model_id
    print(f"encoding {len(train_paths)} training and {len(test_paths)} held-out photos with {model.name} "
          f"(the {DEFAULT_ENCODER} encoder; cached in {cache})", flush=True)
    log = lambda s: print(s, flush=True)  # noqa: E731
    test = encode_photos(codec, test_paths, cache, log)
    train = encode_photos(codec, train_paths, cache, log)
    net = train_context(train, a.minutes, a.seed, log=log)
    ctx = quantize(net)
    result = report(ctx, test, log)
    if a.out:
        saving = 1 - sum(result["ideal_bits"]) / sum(result["today_bits"])
        new_id = with_context(model.path, a.out, ctx, {"context": {
            "command": "python -m codec.train.context " + " ".join(argv if argv is not None else sys.argv[1:]),
            "minutes": a.minutes, "training_photos": len(train), "heldout_photos": len(test),
            "heldout_saving_vs_adaptive": round(saving, 4)}})
        print(f"wrote {a.out}: model id {new_id} (context {ctx.context_id}; the weights' id {model.weights_id} "
              "still decodes with it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
