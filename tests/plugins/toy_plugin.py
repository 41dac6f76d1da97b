"""A researcher's own codec as a Python plugin (tests/test_plugins.py registers it the way an
entry point in the group lstm_compare.codecs would)."""
import io

import numpy as np
from PIL import Image

from codec.classical import ClassicalCodec


class ToyCodec(ClassicalCodec):
    """4-bit posterisation (setting = bits kept, 1..8), stored as PNG."""
    key, label, suffix = "toy", "Toy posteriser", ".png"
    low, high = 1, 8
    curve_settings = (1, 2, 3, 4, 5, 6, 7, 8)

    def available(self):
        return True

    def library(self):
        return "toy 1.0"

    def cache_key(self, setting):
        return {"bits": int(setting)}

    def encode_bytes(self, pixels, setting):
        shift = 8 - int(setting)
        buf = io.BytesIO()
        Image.fromarray(((pixels >> shift) << shift).astype(np.uint8)).save(buf, "PNG", optimize=True)
        return buf.getvalue()


class BrokenCodec(ToyCodec):
    key, label = "broken", "Broken codec"

    def encode_bytes(self, pixels, setting):
        raise RuntimeError("the plugin's own bug")
