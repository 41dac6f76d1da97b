"""Decoder: 1x1 conv, four ConvLSTM cells each followed by a 2x upsampler, 1x1 conv to RGB."""
from __future__ import annotations

import torch
from torch import nn

from codec.lstm.config import ModelConfig
from codec.lstm.model.cells import ConvLSTMCell
from codec.lstm.model.recovery import ImageRecoveryBlock


def make_upsampler(kind: str, in_ch: int) -> nn.Module:
    """2x upsampling from in_ch to in_ch / 4 channels, the same shape both ways."""
    if kind == "depth_to_space":
        return nn.PixelShuffle(2)
    return ImageRecoveryBlock(in_ch, in_ch // 4)


class Decoder(nn.Module):
    # (kernel, hidden kernel) of the four cells, as in the reference implementation.
    KERNELS = ((3, 1), (3, 1), (3, 3), (3, 3))

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c0, *cells = cfg.decoder_channels
        self.head = nn.Conv2d(cfg.bits, c0, 1, bias=False)
        self.cells = nn.ModuleList()
        self.ups = nn.ModuleList()
        in_ch = c0
        for hidden, (k, hk) in zip(cells, self.KERNELS):
            self.cells.append(ConvLSTMCell(in_ch, hidden, k, 1, hk, cfg.gate))
            self.ups.append(make_upsampler(cfg.upsampler, hidden))
            in_ch = hidden // 4
        self.tail = nn.Conv2d(in_ch, 3, 1, bias=False)

    def init_state(self, code_shape=None, device=None):
        return [cell.init_state() for cell in self.cells]

    def forward(self, bits, states):
        x = self.head(bits)
        new = []
        for cell, up, st in zip(self.cells, self.ups, states):
            x, st = cell(x, st)
            new.append(st)
            x = up(x)
        # tanh / 2: outputs lie in the same [-0.5, 0.5] range as the network's pixels.
        return torch.tanh(self.tail(x).float()) / 2, new
