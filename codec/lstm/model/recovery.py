"""The paper's image recovery block: a learned 2x upsampler replacing depth-to-space."""
from __future__ import annotations

import torch
from torch import nn


def _bilinear_transposed_kernel(channels_in: int, channels_out: int) -> torch.Tensor:
    """Weights making ConvTranspose2d(k=4, s=2, p=1) a bilinear 2x upsampler.

    Output channel j starts as the bilinear upsampling of the mean of the input channels
    j*r .. j*r + r - 1 (r = in / out), i.e. the same channel grouping as depth-to-space
    keeps, so the block starts as a smooth upsampler rather than as noise."""
    f = torch.tensor([0.25, 0.75, 0.75, 0.25])
    k2d = torch.outer(f, f)
    w = torch.zeros(channels_in, channels_out, 4, 4)
    ratio = channels_in // channels_out
    for j in range(channels_out):
        w[j * ratio:(j + 1) * ratio, j] = k2d / ratio
    return w


class ImageRecoveryBlock(nn.Module):
    """Upsamples 2x from `in_ch` to `out_ch` channels.

    Main path (the paper's description): cascaded 3x3 convs extract features, a transposed
    conv upsamples 2x, two more 3x3 convs refine; a transposed conv from the block's input
    is added on. Choices the paper leaves open (documented in docs/history.md): two convs
    before the upsampling at the input's width, ReLU between layers, kernel 4 stride 2 for
    the transposed convs. For stable training the skip path starts as bilinear upsampling and
    the main path's last conv starts at zero, so the block begins as a smooth upsampler
    and learns its correction on top.
    """

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        act = nn.ReLU
        self.main = nn.Sequential(
            nn.Conv2d(in_ch, in_ch, 3, padding=1), act(),
            nn.Conv2d(in_ch, in_ch, 3, padding=1), act(),
            nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1), act(),
            nn.Conv2d(out_ch, out_ch, 3, padding=1), act(),
            nn.Conv2d(out_ch, out_ch, 3, padding=1),
        )
        self.skip = nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1, bias=False)
        with torch.no_grad():
            self.skip.weight.copy_(_bilinear_transposed_kernel(in_ch, out_ch))
            self.main[-1].weight.zero_()
            self.main[-1].bias.zero_()

    def forward(self, x):
        return self.main(x) + self.skip(x)
