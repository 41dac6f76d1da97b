"""Encoder: a strided conv, then three strided ConvLSTM cells (16x downsampling in all)."""
from __future__ import annotations

from torch import nn

from codec.lstm.config import ModelConfig
from codec.lstm.model.cells import ConvLSTMCell


class Encoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c0, c1, c2, c3 = cfg.encoder_channels
        self.stem = nn.Conv2d(3, c0, 3, stride=2, padding=1, bias=False)
        self.cells = nn.ModuleList([
            ConvLSTMCell(c0, c1, 3, 2, 1, cfg.gate),
            ConvLSTMCell(c1, c2, 3, 2, 1, cfg.gate),
            ConvLSTMCell(c2, c3, 3, 2, 1, cfg.gate),
        ])
        self.out_channels = c3

    def init_state(self, x_shape=None, device=None):
        return [cell.init_state() for cell in self.cells]

    def forward(self, x, states):
        x = self.stem(x)
        new = []
        for cell, st in zip(self.cells, states):
            x, st = cell(x, st)
            new.append(st)
        return x, new
