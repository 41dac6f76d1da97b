"""Does it pay to send the cheaper bit where the encoder is unsure? (issue 20)

    python research/rate_bias.py TAU [TAU ...] [--from ITERATION]

Where the encoder's value |y| < TAU, send the previous iteration's bit at that place instead
of sign(y): the entropy coder's contexts predict it, so it costs less, and an unsure bit
should carry little. The decoder is unchanged (ordinary files). Prints, on the training
photos of block_rd.py, the MS-SSIM (dB) BD-rate of each TAU against TAU = 0 (the shipped
encoder), and the mean bpp and MS-SSIM at 1, 4 and 16 iterations.
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

from block_rd import DEFAULT_PHOTOS, centre_crop  # noqa: E402

from codec.lstm.checkpoint import load_model  # noqa: E402
from codec.lstm.coder import LSTMCodec  # noqa: E402
from codec.rd.bd import bd_rate  # noqa: E402
from codec.imaging.imageio import load_rgb  # noqa: E402
from codec.quality.metrics import msssim  # noqa: E402
from codec.lstm.zoo import DEFAULT, shipped  # noqa: E402


class BiasedCodec(LSTMCodec):
    def __init__(self, model, tau: float, first: int):
        super().__init__(model)
        self.tau, self.first = tau, first

    @torch.no_grad()
    def _step(self, st, codes=None, iterations=0, should_stop=None, precision=None, values=None):
        if codes is None:
            y = self._values(st)
            codes = self.net.binarizer.binarize(y, stochastic=False)
            prev = getattr(st, "prev_codes", None)
            if self.tau > 0 and prev is not None and st.t + 1 >= self.first:
                codes = torch.where(y.abs() < self.tau, prev, codes)
            st.prev_codes = codes
        return super()._step(st, codes, iterations, should_stop, precision)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("taus", nargs="+", type=float)
    p.add_argument("--from", dest="first", type=int, default=2, help="first iteration biased (default 2)")
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    model = load_model(shipped(DEFAULT).path)
    photos = [centre_crop(load_rgb(q).pixels, 512, 768) for q in DEFAULT_PHOTOS if q.exists()]
    curves = {}
    for tau in sorted({0.0, *a.taus}):
        codec = BiasedCodec(model, tau, a.first)
        curves[tau] = [[(r.bpp, msssim(px, r.reconstruction)) for r in codec.encode_progressive(px, 16)]
                       for px in photos]

    def curve(points):
        return {"bpp": [b for b, _ in points], "ms-ssim-rgb": [m for _, m in points]}
    for tau, per in curves.items():
        bds = [bd_rate(curve(b), curve(q), "ms-ssim-rgb-db") for b, q in zip(curves[0.0], per)]
        bpp = np.mean([[b for b, _ in q] for q in per], 0)
        ms = np.mean([[m for _, m in q] for q in per], 0)
        print(f"tau {tau} from iteration {a.first}: BD-rate vs tau 0 {np.mean(bds):+.2f}% "
              f"(per photo {', '.join(f'{b:+.2f}' for b in bds)}); bpp at 1/4/16 iterations "
              f"{bpp[0]:.3f}/{bpp[3]:.3f}/{bpp[15]:.3f}; MS-SSIM {ms[0]:.4f}/{ms[3]:.4f}/{ms[15]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
