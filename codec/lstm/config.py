"""Model configuration: everything needed to rebuild a model, stored inside its checkpoint."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

GATES = ("hard_sigmoid", "sigmoid")
UPSAMPLERS = ("recovery", "depth_to_space")

# Channel widths of the reference implementation (1zb/pytorch-image-comp-rnn), width 1.0.
_REF_ENCODER = (64, 256, 512, 512)  # stem conv, then three ConvLSTM cells
_REF_DECODER = (512, 512, 512, 256, 128)  # 1x1 conv, then four ConvLSTM cells


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of one LSTM codec.

    gate:       "hard_sigmoid" (the paper: clip(0.2x + 0.5, 0, 1)) or "sigmoid" (Toderici).
    upsampler:  "recovery" (the paper's image recovery block) or "depth_to_space" (Toderici).
    gamma:      reconstruction x_t = D_t(b_t) + gamma * x_{t-1}; 0.5 the paper, 1 additive,
                0 one-shot (every iteration predicts the whole image).
    width:      channel multiplier against the reference layout (1.0 = 35.5 M parameters).
    bits:       binary channels per 16x16 block per iteration (32 -> 0.125 bpp).
    iterations: iterations the model was trained for (files may hold fewer).
    color:      "rgb": the network sees RGB scaled to [-0.5, 0.5]; the only mode so far,
                kept in the config so files and checkpoints say what they assume.
    residual_gain: residual scaling (Toderici et al. 2017's scaled-additive reconstruction,
                the paper's "LSTM and residual scaling" baseline, with one learned gain per
                iteration instead of a per-patch gain network): from iteration 2 on the
                encoder sees g_t * r_{t-1} and the decoder's output is divided by g_t, so
                the small late residuals reach the network at the scale of the first ones.
    """

    gate: str = "hard_sigmoid"
    upsampler: str = "recovery"
    gamma: float = 0.5
    width: float = 0.25
    bits: int = 32
    iterations: int = 16
    color: str = "rgb"
    residual_gain: bool = False

    def __post_init__(self):
        if self.gate not in GATES:
            raise ValueError(f"gate must be one of {GATES}, not {self.gate!r}")
        if self.upsampler not in UPSAMPLERS:
            raise ValueError(f"upsampler must be one of {UPSAMPLERS}, not {self.upsampler!r}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must lie in [0, 1], not {self.gamma}")
        if self.width <= 0 or not 1 <= self.bits <= 255 or not 1 <= self.iterations <= 255:
            raise ValueError("width must be > 0, bits and iterations in 1..255")
        if self.color != "rgb":
            raise ValueError(f"color must be 'rgb', not {self.color!r}")

    def channels(self, ref: int, multiple: int = 4) -> int:
        """Scale a reference width, keeping it a multiple of 4 (depth-to-space needs it)."""
        return max(multiple, int(round(ref * self.width / multiple)) * multiple)

    @property
    def encoder_channels(self) -> tuple[int, ...]:
        return tuple(self.channels(c) for c in _REF_ENCODER)

    @property
    def decoder_channels(self) -> tuple[int, ...]:
        return tuple(self.channels(c, 16) for c in _REF_DECODER)

    @property
    def bpp_per_iteration(self) -> float:
        return self.bits / 256.0

    def to_dict(self) -> dict:
        d = asdict(self)
        if not self.residual_gain:
            # added after models shipped: left out when off, so their ids (a hash of this
            # dict and the weights) and the files that name them stay valid
            del d["residual_gain"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model settings {sorted(unknown)}; is the checkpoint from a newer version?")
        return cls(**d)
