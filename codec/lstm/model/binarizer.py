"""Binarizer: 1x1 conv to `bits` channels, tanh, then sign (stochastic while training)."""
from __future__ import annotations

import torch
from torch import nn


class Binarizer(nn.Module):
    def __init__(self, in_ch: int, bits: int):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, bits, 1, bias=False)

    def values(self, x: torch.Tensor) -> torch.Tensor:
        """y = tanh(conv(x)) in (-1, 1): what the sign is taken of."""
        return torch.tanh(self.conv(x).float())

    def forward(self, x: torch.Tensor, stochastic: bool | None = None) -> torch.Tensor:
        return self.binarize(self.values(x), stochastic)

    def binarize(self, y: torch.Tensor, stochastic: bool | None = None) -> torch.Tensor:
        """Returns codes in {-1, +1}.

        Stochastic (training default): +1 with probability (1 + y) / 2, so the code is an
        unbiased estimate of y = tanh(conv(x)); the gradient passes straight through to y.
        Deterministic (inference): sign(y), with 0 mapped to +1 so every code is one bit.
        """
        if stochastic is None:
            stochastic = self.training
        if stochastic:
            b = torch.where(torch.rand_like(y) <= (1 + y) / 2, 1.0, -1.0)
        else:
            b = torch.where(y >= 0, 1.0, -1.0)
        return b + (y - y.detach())  # value exactly b; gradient of y
