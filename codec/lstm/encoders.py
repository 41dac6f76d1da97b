"""The LSTM codec's encoders: which bits to send for the same decoder and files.

`fast` sends the encoder network's own bits; the others search for better ones
(codec/lstm/refine.py). Plain settings, no torch: the command line lists them cheaply.
"""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class RefineSettings:
    steps: int = 10       # Adam steps per iteration
    lookahead: int = 1    # later iterations the objective also scores
    lr: float = 0.02      # on u, where the encoder's y lies in (-1, 1)
    patience: int = 4     # no candidate keeps the stream progressive after `steps`: search
    #                       on up to patience x steps (the late iterations, where gains are tiny)
    first: int = 0        # refine iterations 1..first only, the later ones get the encoder's own
    #                       bits (0: every iteration)
    guard: bool = False   # where the encoder's own bits for a later iteration would lower the
    #                       picture's MS-SSIM, search one step at a time until bits that raise it

    def __post_init__(self):
        if self.steps < 1 or self.lookahead < 0 or not self.lr > 0 or self.patience < 1 or self.first < 0:
            raise ValueError("refinement needs steps >= 1, lookahead >= 0, lr > 0, patience >= 1 and first >= 0")

    def refines(self, t: int) -> bool:
        """Whether iteration t (0-based) is refined."""
        return not self.first or t < self.first

    def guards(self, t: int) -> bool:
        """Whether iteration t (0-based), sent with the encoder's own bits, is checked (and
        searched where those bits would lower the picture's quality)."""
        return self.guard and not self.refines(t) and t > 0

    def until_better(self) -> "RefineSettings":
        """The guard's search: one step at a time, stopping at the first bits that raise the
        picture's quality, within the same budget of steps."""
        return replace(self, steps=1, patience=self.steps * self.patience, first=0, guard=False)


# The encoders of the LSTM codec by name (the one place the names live): which bits to send
# for the same decoder. Chosen on training photos (research/refine_budget.md; docs/model.md,
# "What the encoder buys"), never on Kodak: the first two iterations carry most of a
# BD-rate's weight, and a few steps there buy most of what the thorough search buys at a
# thirtieth of its cost. The quick encoder's guard keeps the later iterations raising the
# picture's quality where the encoder's own bits would lower it (research/guard.py).
ENCODERS: dict[str, RefineSettings | None] = {
    "fast": None,  # the encoder network's own bits
    "quick": RefineSettings(steps=3, lookahead=0, lr=0.05, first=2, guard=True),
    "thorough": RefineSettings(),
}
ENCODER_LABELS = {
    "fast": "Fast: the encoder network's own bits",
    "quick": "Quick refinement: better bits for the first two iterations, and for any later one that would lower quality",
    "thorough": "Thorough refinement: better bits for every iteration (slow)",
}
DEFAULT_ENCODER = "quick"


def encoder_name(settings: RefineSettings | None) -> str:
    """The name of these settings in ENCODERS, or "custom"."""
    return next((name for name, s in ENCODERS.items() if s == settings), "custom")
