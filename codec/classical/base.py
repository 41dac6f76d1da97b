"""What a classical codec is: bytes from pixels at one quality-like setting, pixels from
bytes (`ClassicalCodec`, which plugins subclass), and what one encode gives (`ClassicalResult`).

Everything happens in memory; bpp always comes from the real encoded bytes.
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, features

from codec.base.errors import CodecError
from codec.imaging.units import bpp as bits_per_pixel


@dataclass
class ClassicalResult:
    codec: str
    setting: float
    data: bytes = field(repr=False)
    reconstruction: np.ndarray = field(repr=False)
    bpp: float = 0.0
    encode_seconds: float = 0.0
    decode_seconds: float = 0.0
    setting_label: str = ""     # as its codec writes the setting ("q=80")

    @property
    def num_bytes(self) -> int:
        return len(self.data)


class ClassicalCodec:
    """A classical codec: bytes from pixels at one quality-like setting, pixels from bytes.

    A codec of your own (a plugin, codec/classical/plugins.py) subclasses this and sets `key`, `label`,
    `suffix`, `low`/`high` (the setting's range; the file must grow with the setting) and
    `curve_settings`, and implements `encode_bytes` and `decode`. Pillow's codecs only name
    their save options (`save_kwargs`)."""
    key = ""
    label = ""
    suffix = ""
    pil_feature = ""
    integer = True
    low, high = 1, 100          # setting range for bisection; bpp grows with the setting
    curve_settings: tuple = ()

    def available(self) -> bool:
        return features.check(self.pil_feature)

    def library(self) -> str:
        """What made the bytes (results files name it; the cache keys on it)."""
        return f"Pillow {self.pil_feature} {features.version(self.pil_feature) or '?'}"

    def save_kwargs(self, setting) -> dict:
        raise NotImplementedError

    def cache_key(self, setting) -> dict:
        """Everything besides the library that decides the bytes at this setting."""
        return self.save_kwargs(setting)

    def setting_label(self, setting) -> str:
        return f"q={int(setting)}"

    def unavailable_reason(self) -> str:
        return f"{self.label} is not available in this Pillow build ({self.pil_feature} missing)."

    def encode_bytes(self, pixels: np.ndarray, setting) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(pixels, "RGB").save(buf, **self.save_kwargs(setting))
        return buf.getvalue()

    def encode(self, pixels: np.ndarray, setting) -> ClassicalResult:
        if not self.available():
            raise CodecError(self.unavailable_reason())
        try:
            t0 = time.perf_counter()
            data = self.encode_bytes(pixels, setting)
            t1 = time.perf_counter()
            rec = self.decode(data)
            t2 = time.perf_counter()
        except CodecError:
            raise
        except Exception as e:  # a plugin's bug or a library's refusal: said in words, the rest goes on
            raise CodecError(f"{self.label} failed at {self.setting_label(setting)}: {type(e).__name__}: {e}") from None
        h, w = pixels.shape[:2]
        if rec.shape != pixels.shape or rec.dtype != np.uint8:
            raise CodecError(f"{self.label} decoded a {rec.shape[1]}x{rec.shape[0]} image from a "
                             f"{w}x{h} one; the codec is broken.")
        return ClassicalResult(self.key, setting, data, rec, bits_per_pixel(len(data), h, w), t1 - t0, t2 - t1,
                               self.setting_label(setting))

    def decode(self, data: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(data)) as dec:
            return np.asarray(dec.convert("RGB"), dtype=np.uint8)
