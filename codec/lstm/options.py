"""How the LSTM codec runs, as one value: which model, which bits its encoder sends, how they
are stored, in what arithmetic, in what tiles, on what device. The command line, `eval`, the
cluster's workers, the app and its data set window all describe the codec with it; `build`
`LSTMCodec.from_options` (codec/lstm/coder.py) is the one place a codec is made from it and
`spec` the one place it is named in fingerprints (caches, resumable evaluations, cluster tasks).
Plain values, no torch: a command line builds one cheaply.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from codec.lstm.encoders import DEFAULT_ENCODER, ENCODERS, RefineSettings, encoder_name

DEFAULT_TILE = 1024  # whole Kodak images are one tile; 24 MP photos are 24 tiles
DEVICES = ("auto", "cpu", "cuda", "mps")  # auto: a GPU where there is one (codec/lstm/device.py)
# the network's arithmetic (codec/lstm/bitstream.py's PRECISIONS and auto: int8 where the CPU
# makes it fast, fp32 elsewhere; codec/lstm/coder.py resolves it)
PRECISION_CHOICES = ("auto", "fp32", "bf16", "int8")


@dataclass(frozen=True)
class LSTMOptions:
    """`model`: a shipped model's name or id, or a checkpoint's path (None: the default);
    `refine`: the encoder's search (None: the encoder network's own bits, the fast encoder)."""
    model: str | None = None
    refine: RefineSettings | None = ENCODERS[DEFAULT_ENCODER]
    entropy: bool = True
    precision: str = "auto"
    tile: int = DEFAULT_TILE
    device: str = "auto"

    @classmethod
    def with_encoder(cls, name: str, **others) -> "LSTMOptions":
        """Options with one of ENCODERS by name."""
        return cls(refine=ENCODERS[name], **others)

    @property
    def encoder(self) -> str:
        """The encoder's name in ENCODERS, or "custom"."""
        return encoder_name(self.refine)

    def replace(self, **changes) -> "LSTMOptions":
        return replace(self, **changes)

    def spec(self, model_id: str) -> dict:
        """What decides the codec's bits and pictures, by name, for fingerprints: the model by
        its id (a path names no weights), and every option."""
        return {"model": model_id, "entropy": self.entropy, "refine": repr(self.refine), "tile": self.tile,
                "precision": self.precision, "device": self.device}

    def record(self) -> dict:
        """Plain values (for a settings file or a message to another process)."""
        return asdict(self)
