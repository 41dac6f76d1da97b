"""Where do the late iterations go? Per iteration, for a model on a few Kodak crops:

- L1: mean |residual| after the iteration (pixels in [-0.5, 0.5]);
- |D|: mean |decoder output| of the iteration (what it adds to the reconstruction);
- enc: share of the iteration's bits that differ from those the encoder (same state) would
  send for a zero residual: how much the bits depend on what is left to code;
- dec: mean change of the decoder's output when 10% of the bits are flipped (seeded);
- |c|>2: share of each cell's state units beyond 2 (tanh(c) > 0.96: saturated), decoder
  cells first, then the encoder's.

    python research/probe_iterations.py [--model baseline-msssim|PATH] [--data ../shared/data/kodak]
"""
import argparse
from pathlib import Path

import numpy as np
import torch

from codec.lstm.checkpoint import load_model
from codec.imaging.imageio import load_rgb
from codec.lstm.zoo import resolve_model


def crops(folder: Path, names, size: int) -> torch.Tensor:
    out = []
    for name in names:
        a = load_rgb(folder / name).pixels
        h, w = a.shape[:2]
        a = a[(h - size) // 2:(h + size) // 2, (w - size) // 2:(w + size) // 2]
        out.append(torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).float() / 255 - 0.5)
    return torch.stack(out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="baseline-msssim")
    p.add_argument("--data", default="../shared/data/kodak")
    p.add_argument("--images", default="kodim01.png,kodim05.png,kodim13.png,kodim21.png")
    p.add_argument("--size", type=int, default=256)
    a = p.parse_args()
    m = load_model(resolve_model(a.model)).net
    x = crops(Path(a.data), a.images.split(","), a.size)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        enc, dec = m.init_states(x.shape)
        recon, res = None, x
        for t in range(m.cfg.iterations):
            bits, enc_next = m.encode_step(res, enc, False, t)
            bits_zero, _ = m.encode_step(torch.zeros_like(res), enc, False, t)
            # the network's own decode step (gain and gamma included), once as sent, once flipped
            new_recon, dec_next = m.decode_step(bits, recon, dec, t)
            flip = torch.where(torch.rand(bits.shape, generator=g) < 0.1, -1.0, 1.0)
            flipped = m.decode_step(bits * flip, recon, dec, t)[0]
            out = new_recon if recon is None else new_recon - m.cfg.gamma * recon  # this iteration's D_t
            sat = [(c.abs() > 2).float().mean().item() for _, c in dec_next + enc_next]
            enc, dec, recon = enc_next, dec_next, new_recon
            res = x - recon
            print(f"iteration {t + 1:2d}: L1 {res.abs().mean():.4f}  |D| {out.abs().mean():.4f}  "
                  f"enc {(bits != bits_zero).float().mean():.3f}  dec {(new_recon - flipped).abs().mean():.4f}  "
                  f"|c|>2 {' '.join(f'{v:.2f}' for v in sat)}")


if __name__ == "__main__":
    main()
