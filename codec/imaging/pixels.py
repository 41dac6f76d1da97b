"""Between 8-bit RGB pixels and the network's tensors (in [-0.5, 0.5]): the one conversion
the encoder, the decoder and refinement's scoring share."""
from __future__ import annotations

import numpy as np
import torch


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """(h, w, 3) uint8 -> (1, 3, h, w) float32 in [-0.5, 0.5] (a copy: writable, contiguous)."""
    return torch.from_numpy(np.array(pixels, copy=True)).permute(2, 0, 1)[None].float() / 255.0 - 0.5


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(1, 3, h, w) in [-0.5, 0.5] -> (h, w, 3) uint8."""
    return (x[0].permute(1, 2, 0).mul(255.0).add(127.5).round_().clamp_(0, 255)
            .to(torch.uint8).cpu().numpy())
