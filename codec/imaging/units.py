"""The quantities every part of the codec shares, defined once (no torch here: the file
reader and `lstm-codec info` use them)."""
from __future__ import annotations

BLOCK = 16  # pixels: one code vector per 16x16 block, per iteration
MAX_PIXELS = 400_000_000  # the most an input image or a .lstm file may hold: no photo is larger


def bpp(num_bytes: int, height: int, width: int) -> float:
    """Bits per pixel of a file of `num_bytes` for a height x width image (bpp always comes
    from real file bytes, header included)."""
    return 8.0 * num_bytes / (height * width)
