"""Trace encoder-side refinement on one image: per iteration, the MS-SSIM of the previous
iteration, of the bits sent (float32 and exact, as the evaluation scores them), of the
encoder's own bits, and of the next iteration's own bits after the sent ones (what keeps
the stream progressive), with the share of bits flipped. Whole image as one tile.

    python research/trace_refine.py ../shared/data/kodak/kodim09.png [--model baseline-msssim] [--steps 10]
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from codec.lstm import coder, refine  # noqa: E402
from codec.lstm.checkpoint import load_model  # noqa: E402
from codec.imaging.imageio import load_rgb  # noqa: E402
from codec.lstm.zoo import resolve_model  # noqa: E402

_refine_bits = refine.refine_bits


def traced(net, x, y, prev_recon, enc_state, dec_state, t, later, s, should_stop=None):
    t0 = time.time()
    bits = _refine_bits(net, x, y, prev_recon, enc_state, dec_state, t, later, s, should_stop)
    seconds = time.time() - t0
    q = lambda r, exact=False: 1 - refine._scored(r, x, exact)  # noqa: E731
    with torch.no_grad():
        recon, dec = net.decode_step(bits, prev_recon, dec_state, t)
        own = net.binarizer.binarize(y, False)  # the encoder's own bits, as the codec makes them
        line = (f"iteration {t + 1:2d}: previous {0 if prev_recon is None else q(prev_recon, True):.7f} "
                f"sent {q(recon):.7f} (exact {q(recon, True):.7f}) "
                f"own {q(net.decode_step(own, prev_recon, dec_state, t)[0]):.7f}")
        if later:
            y2, _ = net.code_values(x - recon, enc_state, t + 1)
            line += f" next own {q(net.decode_step(net.binarizer.binarize(y2, False), recon, dec, t + 1)[0]):.7f}"
    print(f"{line} flipped {(bits != own).float().mean().item():.3f} {seconds:.0f} s", flush=True)
    return bits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("--model", default="baseline-msssim")
    ap.add_argument("--steps", type=int, default=10)
    a = ap.parse_args()
    coder.refine_bits = traced
    codec = coder.LSTMCodec(load_model(resolve_model(a.model)), refine=refine.RefineSettings(steps=a.steps))
    for _ in codec.encode_progressive(load_rgb(a.image).pixels):
        pass


if __name__ == "__main__":
    main()
