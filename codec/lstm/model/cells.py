"""Convolutional LSTM cell with a choice of gate non-linearity."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """The paper's (Keras') hard sigmoid: clip(0.2 x + 0.5, 0, 1), linear on [-2.5, 2.5].

    PyTorch's F.hardsigmoid is linear on [-3, 3] instead; we follow the paper. hardtanh is
    clamp's values with a one-pass backward (clamp's takes four)."""
    return F.hardtanh(0.2 * x + 0.5, 0.0, 1.0)


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
        # both convolutions as one module over cat(x, h), where a copy of the network runs in
        # other arithmetic (codec/lstm/model/int8.py); None: the weights' own convolutions
        self.joint = None
        with torch.no_grad():
            self.conv_in.bias.zero_()
            self.conv_in.bias[hidden:2 * hidden].fill_(1.0)

    def init_state(self, x_shape=None, device=None):
        """The state before the first iteration: h and c are zero, written None so that the
        first step skips the hidden convolution and the forget term (they would add exact
        zeros): the same result, the first iteration 30% faster."""
        return None, None

    def forward(self, x, state):
        if not torch.is_grad_enabled():
            return self._infer(x, state)
        h, c = state
        gates = self._input_conv(x)
        if h is not None:
            gates = gates + self.conv_hidden(h)
        i, f, g, o = gates.chunk(4, dim=1)
        # The cell state is kept in fp32 even under bf16 autocast: 16 iterations of
        # accumulation in bf16 (8-bit mantissa) lose the small residual updates.
        i, f, o = self.gate(i.float()), self.gate(f.float()), self.gate(o.float())
        g = torch.tanh(g.float())
        c = i * g if c is None else f * c.float() + i * g
        h = o * torch.tanh(c)
        return h, (h, c)

    def _input_conv(self, x):
        """conv_in(x). oneDNN's bfloat16 kernels on CPUs with AMX return garbage or NaN for a
        strided 3x3 convolution whose output is one column wide (the encoder's last cell, on an
        image or tile 16 pixels wide): on more zero columns, whose output is dropped, it is
        the same convolution and comes out right."""
        if self.stride == 1 or x.shape[-1] > self.stride:
            return self.conv_in(x)
        # `stride` more columns make exactly one more output column
        return self.conv_in(F.pad(x, (0, self.stride)))[..., :-1]

    # -- inference (no autograd): the same arithmetic, fewer passes over memory ---------
    def _joint_weight(self) -> torch.Tensor | None:
        """conv_in's and conv_hidden's weights side by side, when both are the same
        stride-1 kernel: one convolution over cat(x, h) then does both (the decoder's
        3x3/3x3 cells), without the sum of two gate tensors. Rebuilt if a weight changes."""
        ci, ch = self.conv_in, self.conv_hidden
        if not isinstance(ci, nn.Conv2d) or self.stride != 1 or ci.kernel_size != ch.kernel_size:
            return None
        key = (ci.weight._version, ch.weight._version, ci.weight.data_ptr(), ch.weight.data_ptr())
        cached = getattr(self, "_joint", None)
        if cached is None or cached[0] != key:
            cached = (key, torch.cat([ci.weight, ch.weight], 1).detach())
            self._joint = cached
        return cached[1]

    def _infer(self, x, state):
        h, c = state
        # .float(): under bfloat16 (the codec's bf16 precision) the convolutions give bf16;
        # the gate arithmetic and the cell state stay float32, as in training
        if h is None:
            gates = self._input_conv(x).float()
        elif self.joint is not None:
            gates = self.joint(torch.cat([x.float(), h], 1))
        elif (joint := self._joint_weight()) is not None:
            gates = F.conv2d(torch.cat([x, h.to(x.dtype)], 1), joint, self.conv_in.bias, 1,
                             self.conv_in.padding).float()
        else:
            gates = self._input_conv(x).float()
            if (isinstance(self.conv_hidden, nn.Conv2d) and self.conv_hidden.kernel_size == (1, 1)
                    and gates.shape[0] == 1 and gates.is_contiguous()
                    and not torch.is_autocast_enabled(gates.device.type)):
                # a 1x1 convolution is a matrix product: BLAS adds it into the gates in one call
                n, hw = self.hidden, h.shape[2] * h.shape[3]
                gates.view(4 * n, hw).addmm_(self.conv_hidden.weight.view(4 * n, n), h.reshape(n, hw))
            else:
                gates += self.conv_hidden(h)
        # gates is ours alone: the gate functions run in place on its four slices
        i, f, g, o = gates.chunk(4, dim=1)
        for s in (i, f, o):
            if self.gate is torch.sigmoid:
                torch.sigmoid(s, out=s)
            else:  # hard_sigmoid's own operations, in place: the same values
                s.mul_(0.2).add_(0.5).clamp_(0.0, 1.0)
        _tanh(g, out=g)
        c = torch.mul(i, g) if c is None else torch.addcmul(f.mul_(c), i, g)
        # h gets its own memory: a view into gates would keep all four gates alive in the state
        h = torch.mul(o, _tanh(c, out=i))
        return h, (h, c)


def _tanh(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """tanh(x) = 2 sigmoid(2x) - 1, into `out` (which may be x): 4x faster than torch.tanh
    on our CPUs (its 1-ulp vectorised tanh is slow; sigmoid is not), within 2e-7."""
    torch.mul(x, 2.0, out=out)
    torch.sigmoid(out, out=out)
    return out.mul_(2.0).sub_(1.0)
