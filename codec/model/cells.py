"""Convolutional LSTM cell with a choice of gate non-linearity."""
from __future__ import annotations

import torch
from torch import nn


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """The paper's (Keras') hard sigmoid: clip(0.2 x + 0.5, 0, 1), linear on [-2.5, 2.5].

    PyTorch's F.hardsigmoid is linear on [-3, 3] instead; we follow the paper."""
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


GATE_FUNCTIONS = {"hard_sigmoid": hard_sigmoid, "sigmoid": torch.sigmoid}


class ConvLSTMCell(nn.Module):
    """gates = conv_in(x) + conv_hidden(h);  c' = f*c + i*g;  h' = o*tanh(c').

    The input convolution may be strided (the encoder downsamples inside its cells). The
    forget gate's bias starts at 1 so the cell begins by remembering, the usual LSTM init.
    """

    def __init__(self, in_ch: int, hidden: int, kernel: int = 3, stride: int = 1,
                 hidden_kernel: int = 1, gate: str = "hard_sigmoid"):
        super().__init__()
        self.hidden = hidden
        self.stride = stride
        self.conv_in = nn.Conv2d(in_ch, 4 * hidden, kernel, stride, kernel // 2, bias=True)
        self.conv_hidden = nn.Conv2d(hidden, 4 * hidden, hidden_kernel, 1, hidden_kernel // 2, bias=False)
        self.gate = GATE_FUNCTIONS[gate]
        with torch.no_grad():
            self.conv_in.bias.zero_()
            self.conv_in.bias[hidden:2 * hidden].fill_(1.0)

    def init_state(self, x_shape, device, dtype=torch.float32):
        n, _, h, w = x_shape
        h, w = -(-h // self.stride), -(-w // self.stride)
        z = torch.zeros(n, self.hidden, h, w, device=device, dtype=dtype)
        return z, z.clone()

    def forward(self, x, state):
        h, c = state
        gates = self.conv_in(x) + self.conv_hidden(h)
        i, f, g, o = gates.chunk(4, dim=1)
        # The cell state is kept in fp32 even under bf16 autocast: 16 iterations of
        # accumulation in bf16 (8-bit mantissa) lose the small residual updates.
        i, f, o = self.gate(i.float()), self.gate(f.float()), self.gate(o.float())
        g = torch.tanh(g.float())
        c = f * c.float() + i * g
        h = o * torch.tanh(c)
        return h, (h, c)
