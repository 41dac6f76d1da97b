"""The whole recurrent codec network: encoder, binarizer, decoder and the reconstruction rule."""
from __future__ import annotations

import torch
from torch import nn

from codec.lstm.config import ModelConfig
from codec.lstm.model.binarizer import Binarizer
from codec.lstm.model.decoder import Decoder
from codec.lstm.model.encoder import Encoder
from codec.imaging.units import BLOCK  # one code vector per 16x16 pixel block


class LSTMCodecNet(nn.Module):
    """One iteration: b_t = B(E(g_t r_{t-1})), x_t = D(b_t) / g_t + gamma * x_{t-1}, r_t = x - x_t.

    g_t = 1 unless cfg.residual_gain (then one learned gain per iteration after the first;
    `t` below is the 0-based iteration). Pixels enter as RGB in [-0.5, 0.5]; H and W must
    be multiples of 16 (callers pad).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.binarizer = Binarizer(self.encoder.out_channels, cfg.bits)
        self.decoder = Decoder(cfg)
        # log g_t for t = 1 .. iterations-1 (the first iteration sees the image itself)
        self.log_gain = nn.Parameter(torch.zeros(cfg.iterations - 1)) if cfg.residual_gain else None

    def gain(self, t: int):
        if self.log_gain is None or t == 0 or not len(self.log_gain):
            return 1.0
        # files may run past the trained iterations: they keep the last gain
        return self.log_gain[min(t, len(self.log_gain)) - 1].exp()

    def init_states(self, x_shape, device="cpu"):
        n, _, h, w = x_shape
        enc = self.encoder.init_state(x_shape, device)
        dec = self.decoder.init_state((n, self.cfg.bits, h // BLOCK, w // BLOCK), device)
        return enc, dec

    def code_values(self, residual, enc_state, t: int = 0):
        """The binarizer's y in (-1, 1) before the sign (codec/lstm/refine.py starts from it)."""
        if self.log_gain is not None:  # no whole-image multiply by 1 on the codec's hot path
            residual = residual * self.gain(t)
        code, enc_state = self.encoder(residual, enc_state)
        return self.binarizer.values(code), enc_state

    def encode_step(self, residual, enc_state, stochastic=None, t: int = 0):
        y, enc_state = self.code_values(residual, enc_state, t)
        return self.binarizer.binarize(y, stochastic), enc_state

    def decode_step(self, bits, prev_recon, dec_state, t: int = 0):
        out, dec_state = self.decoder(bits, dec_state)
        if self.log_gain is not None:
            out = out / self.gain(t)
        recon = out if prev_recon is None else out + self.cfg.gamma * prev_recon
        return recon, dec_state

    def forward(self, x, iterations: int | None = None, stochastic: bool | None = None):
        """Training pass: returns the reconstruction after each iteration (list of tensors).
        `stochastic` picks the binarizer's mode (None: stochastic while training)."""
        iterations = iterations or self.cfg.iterations
        enc, dec = self.init_states(x.shape, x.device)
        recon, residual, outs = None, x, []
        for t in range(iterations):
            bits, enc = self.encode_step(residual, enc, stochastic, t)
            recon, dec = self.decode_step(bits, recon, dec, t)
            residual = x - recon
            outs.append(recon)
        return outs
