"""A .lstm file opened as a picture: the model it names, its intact iterations, decoded.

The CLI's `decode` and the app's File > Open share this, so both find the model the same
way and both say the same thing about a damaged file."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from codec.lstm import bitstream

LSTM_SUFFIX = ".lstm"


@dataclass
class DecodedFile:
    pixels: np.ndarray  # (H, W, 3) uint8
    iterations: int     # decoded
    encoded: int        # what the encoder wrote (the header's K)
    model_id: str
    damage: str = ""    # why iterations were dropped when salvaging; "" if none were

    def notes(self) -> list[str]:
        """One sentence per thing the user should know about what was decoded."""
        said = f"decoded {self.iterations} of the file's {self.encoded} iterations (model {self.model_id})"
        if self.damage:
            return [f"{said}; the rest was dropped because {self.damage}"]
        return [said] if self.iterations < self.encoded else []


def decode_file(data: bytes, model=None, iterations: int | None = None, salvage: bool = False,
                progress: Callable[[int, int], None] | None = None, device: str = "cpu") -> DecodedFile:
    """Decode a whole .lstm file (or its first `iterations`). `model`: a LoadedModel; by
    default the shipped model the file names, else the default one (which then refuses the
    file with a sentence naming both models). `salvage`: keep the intact iterations before
    the first damaged one instead of refusing the file. `device`: where the network runs
    (codec/lstm/device.py). Raises CodecError subclasses only."""
    from codec.lstm.checkpoint import load_model  # torch: only once the file's header has been read
    from codec.lstm.coder import LSTMCodec
    from codec.lstm.zoo import default_model_path, find_shipped
    damage = ""
    if salvage:
        data, damage = bitstream.salvage(data)
    parsed = bitstream.read(data)  # refuses a damaged file before any model is loaded
    header = parsed.header
    if model is None:
        model = find_shipped(header.model_id) or load_model(default_model_path())
    pixels = LSTMCodec(model, device=device).decode(data, iterations, progress=progress)
    return DecodedFile(pixels, parsed.available if iterations is None else int(iterations), header.iterations,
                       header.model_id, damage)


def load_picture(path, model=None, crop=None):
    """An image file, or a .lstm file decoded (salvaging what is intact), as an RGBImage whose
    notes say what was decoded: what the app opens. `model`: used when it is the one the
    file names; `crop`: as for imageio.load_rgb. Raises CodecError subclasses with a sentence."""
    from pathlib import Path

    from codec.base.errors import BitstreamError
    from codec.imaging.imageio import PREVIEW_SIDE, RGBImage, load_rgb
    p = Path(path)
    if p.suffix.lower() != LSTM_SUFFIX:
        return load_rgb(p, crop)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise BitstreamError(f"{p.name} could not be read ({e.strerror or e}); check the file.") from None
    header = bitstream.parse_header(data)
    use = model if model is not None and header.model_id in model.ids else None
    decoded = decode_file(data, use, salvage=True)
    pixels, region, preview = decoded.pixels, None, None
    if crop is not None:
        h, w = pixels.shape[:2]
        region = crop(h, w)
        step = max(1, -(-max(h, w) // PREVIEW_SIDE))
        preview = np.ascontiguousarray(pixels[::step, ::step])
        if region is not None:
            pixels = np.ascontiguousarray(pixels[region.y:region.y + region.height, region.x:region.x + region.width])
    return RGBImage(pixels, p.name, decoded.notes(), region, preview)
