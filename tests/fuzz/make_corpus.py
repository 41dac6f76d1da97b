"""Write the fuzzers' seed corpus (small, committed): .lstm files of every layout and
version, and images in every format the loader reads.

    python tests/fuzz/make_corpus.py
"""
from __future__ import annotations

import io
import struct
import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from codec.lstm import bitstream, entropy
from codec.imaging import pillow_plugins  # noqa: E402

pillow_plugins.suffixes()  # registers the HEIF and JPEG XL plugins
from codec.lstm.bitstream import Header  # noqa: E402
from codec.lstm.context import pass_masks  # noqa: E402
from targets import CONTEXT  # noqa: E402

CORPUS = HERE / "corpus"


def lstm_seeds() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    out = {}
    for version in (1, 2, 3):
        for name, flags, shape, p in [("plain", 0, (40, 56), 0.5), ("table", bitstream.ENTROPY, (64, 80), 0.1),
                                      ("raw", bitstream.ENTROPY, (40, 56), 0.5)]:
            header = Header(shape[1], shape[0], 3, 32, 1024, "0123456789abcdef", flags, version=version)
            codes = [np.where(rng.random(header.code_shape) < p, 1.0, -1.0) for _ in range(3)]
            out[f"v{version}-{name}.lstm"] = bitstream.write(header, codes)
        # smooth codes: the spatial modes win
        header = Header(96, 80, 2, 32, 1024, "0123456789abcdef", bitstream.ENTROPY, version=version)
        bh, bw = header.blocks
        codes = [np.where(rng.random((32, 1 + bh // 3, 1 + bw // 3)) < 0.5, 1.0, -1.0)
                 .repeat(3, 1).repeat(3, 2)[:, :bh, :bw] for _ in range(2)]
        out[f"v{version}-spatial.lstm"] = bitstream.write(header, codes)
        header = Header(160, 128, 2, 32, 1024, "0123456789abcdef", bitstream.ENTROPY, version=version)
        out[f"v{version}-flat.lstm"] = bitstream.write(header, [np.ones(header.code_shape)] * 2)
    # the learned mode: codes drawn from CONTEXT's own predictions, pass by pass, so that it
    # codes them in fewer bytes than raw
    header = Header(80, 64, 3, 32, 1024, "0123456789abcdef", bitstream.ENTROPY)
    codes = []
    for t in range(3):
        cur = np.zeros(header.code_shape, np.int8)
        for k, mask in enumerate(pass_masks(header.code_shape)):
            p = CONTEXT.probabilities(CONTEXT.pass_logits(codes[-1] if codes else None, cur, t, k))
            cur[mask] = np.where(rng.random(p.shape) < p, 1, -1)
        codes.append(cur)
    chunks = [entropy.encode_modes(c, codes[t - 1] if t else None, CONTEXT, t)[entropy.LEARNED]
              for t, c in enumerate(codes)]
    out["v3-learned.lstm"] = bitstream.assemble(header, [struct.pack(">I", len(c)) + c for c in chunks])
    return out


def image_seeds() -> dict[str, bytes]:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (12, 17, 3), dtype=np.uint8)
    out = {}
    for fmt, ext, mode in [("PNG", "png", "RGB"), ("PNG", "rgba.png", "RGBA"), ("PNG", "grey16.png", "I;16"),
                           ("JPEG", "jpg", "RGB"), ("WEBP", "webp", "RGB"), ("GIF", "gif", "P"),
                           ("BMP", "bmp", "RGB"), ("PPM", "ppm", "RGB"), ("TIFF", "tif", "RGB"),
                           ("TGA", "tga", "RGB"), ("JPEG2000", "jp2", "RGB"), ("JXL", "jxl", "RGB"),
                           ("HEIF", "heic", "RGB")]:
        img = Image.fromarray(rgb)
        if mode == "RGBA":
            img = Image.fromarray(np.dstack([rgb, rgb[..., :1]]))
        elif mode == "I;16":
            img = Image.fromarray((rgb[..., 0].astype(np.uint16) * 257)).convert("I;16")
        elif mode == "P":
            img = img.convert("P")
        b = io.BytesIO()
        img.save(b, fmt)
        out[f"seed.{ext}"] = b.getvalue()
    return out


def main() -> None:
    for kind, seeds in (("lstm", lstm_seeds()), ("image", image_seeds())):
        folder = CORPUS / kind
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            (folder / name).write_bytes(data)
        print(f"{folder}: {len(seeds)} files, {sum(map(len, seeds.values()))} bytes")


if __name__ == "__main__":
    main()
