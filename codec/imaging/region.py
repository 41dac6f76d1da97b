"""The part of a large photo the app compares at once.

The app keeps every iteration's reconstruction, each codec's samples and their display
copies and, while encoding progressively, every tile's LSTM state: several hundred bytes per
pixel in all (a 2048x2048 region took the app to 4 GB), so a 50-megapixel photo whole would
need tens of GB. Above REGION_SIDE² pixels it compares a REGION_SIDE-square region (1 MP,
2.7 Kodak images) that the user can move; the CLI encodes whole photos tile by tile.
"""
from __future__ import annotations

from dataclasses import dataclass

REGION_SIDE = 1024
ALIGN = 16  # regions start on the full image's block grid


@dataclass(frozen=True)
class Region:
    y: int
    x: int
    height: int
    width: int
    full_height: int
    full_width: int

    def centre(self) -> tuple[int, int]:
        return self.y + self.height // 2, self.x + self.width // 2

    def describe(self) -> str:
        mp = self.full_width * self.full_height / 1e6
        return (f"a {self.full_width}x{self.full_height} photo ({mp:.1f} MP): comparing its {self.width}x"
                f"{self.height} region at x {self.x}, y {self.y}; double-click the original to move it")


def region_for(height: int, width: int, centre: tuple[int, int] | None = None,
               side: int | None = None) -> Region | None:
    """The region of a height x width image to compare, centred on `centre` (y, x; the
    image's centre by default) and kept inside the image; None when the whole image fits."""
    side = side or REGION_SIDE
    if height * width <= side * side:
        return None
    h, w = min(height, side), min(width, side)
    cy, cx = centre if centre is not None else (height // 2, width // 2)

    def start(c, size, full):
        s = max(0, min(int(c) - size // 2, full - size))
        return s - s % ALIGN  # down to the grid: still inside the image

    return Region(start(cy, h, height), start(cx, w, width), h, w, height, width)
