"""Where the network runs: `auto` takes an NVIDIA GPU (CUDA) or a Mac's (MPS) when there is one,
else the CPU. On a GPU, TF32 is off and the kernels are the deterministic ones, so a file encoded
there decodes on a CPU to the same picture within one level (the bits' entropy coder is integer
and unaffected); docs/performance.md says what was validated where."""
from __future__ import annotations

import torch

from codec.base.errors import CodecError
from codec.lstm.options import DEVICES


def available() -> list[str]:
    """The devices this machine can run the network on, the CPU always."""
    out = ["cpu"]
    if torch.cuda.is_available():
        out.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        out.append("mps")
    return out


def pick(name: str) -> torch.device:
    """The torch device for `name` (one of DEVICES); a sentence when it is not here."""
    if name not in DEVICES:
        raise CodecError(f"the device is one of {', '.join(DEVICES)}, not {name!r}.")
    here = available()
    if name == "auto":
        name = next((d for d in ("cuda", "mps") if d in here), "cpu")
    elif name not in here:
        raise CodecError(f"this machine has no {name.upper()} device that torch can use (torch {torch.__version__} "
                         f"sees: {', '.join(here)}); use --device cpu, or auto to take a GPU when there is one.")
    device = torch.device(name)
    if device.type == "cuda":
        reproducible()
    return device


def reproducible() -> None:
    """TF32 off (its 10-bit mantissa would move pictures by more than a level) and deterministic
    kernels (cuDNN's autotuner may pick different algorithms from run to run)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
