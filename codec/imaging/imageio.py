"""Any image file Pillow reads -> 8-bit RGB, plus padding to the block grid and tiling."""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from codec.imaging import pillow_plugins
from codec.base.atomic import atomic_path
from codec.base.errors import ImageReadError
from codec.imaging.units import MAX_PIXELS

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm",
                  ".pnm", ".gif", ".jp2", ".j2k", ".avif", ".tga"} | pillow_plugins.suffixes()
# Pillow's decompression-bomb guard would refuse big photos; we bound memory with tiles
# instead, and refuse only what could not possibly be a photo.
Image.MAX_IMAGE_PIXELS = None
LARGE_IMAGE_BYTES = 256 << 20  # 89 megapixels of RGB
MAX_COMPRESSION = 4096


@dataclass
class RGBImage:
    """8-bit RGB pixels (H, W, 3) and notes on what the conversion did. Loaded with `crop`:
    `region` says which part of the picture `pixels` are, and `preview` is a small copy of
    the whole picture."""
    pixels: np.ndarray
    name: str = ""
    notes: list[str] = field(default_factory=list)
    region: object = None
    preview: np.ndarray | None = None

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]


def to_rgb(img: Image.Image, notes: list[str] | None = None, transpose: bool = True) -> np.ndarray:
    """Convert any Pillow image to (H, W, 3) uint8.

    - EXIF orientation is applied, so pixels are as a viewer shows them.
    - Alpha (RGBA, LA, PA, transparent palettes) is composited onto white, the way a viewer
      shows a transparent image on a page; the codecs compress the colours only.
    - 16-bit and 32-bit integer or float greys are scaled to 8 bits (not clipped).
    - CMYK, YCbCr, LAB, palettes and greys go through Pillow's conversion to RGB.
    """
    notes = notes if notes is not None else []
    if transpose:
        img = _oriented(img, notes)
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or (mode == "I" and a.max() > 255) else 255.0
        if mode == "F":
            top = 1.0 if a.max() <= 1.0 else 255.0
        notes.append(f"{mode} samples scaled to 8 bits")
        g = np.clip(np.round(a / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2)
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        if rgba.getextrema()[3][0] < 255:
            notes.append("transparent pixels composited onto white")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    if mode in ("RGB;16", "BGR;16", "RGB;15"):
        notes.append(f"{mode} converted to 8-bit RGB")
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def _oriented(img: Image.Image, notes: list[str]) -> Image.Image:
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block should not make a readable image unreadable
        notes.append("EXIF orientation could not be read and was ignored")
        return img


PREVIEW_SIDE = 256


def load_rgb(source, crop=None) -> RGBImage:
    """Read a path, bytes or file object. Raises ImageReadError with a sentence on failure.

    `crop(height, width)` -> a Region (codec/imaging/region.py) or None: keep only that part of the
    picture (as oriented for display), converted from Pillow's image directly, so a
    50-megapixel photo never exists as a whole in 8-bit RGB arrays here."""
    name = str(source) if isinstance(source, (str, Path)) else getattr(source, "name", "image")
    if isinstance(source, (str, Path)):
        p = Path(source)
        if not p.exists():
            raise ImageReadError(f"{p} does not exist; check the path.")
        if p.is_dir():
            raise ImageReadError(f"{p} is a folder, not an image file.")
    elif isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    try:
        with Image.open(source) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageReadError(f"{name} is {w}x{h} pixels, more than the {MAX_PIXELS // 1_000_000} "
                                     "megapixels this tool handles; downscale it first.")
            _check_claimed_size(img, name)
            img.load()
            notes: list[str] = []
            region = preview = None
            if crop is not None:
                img = _oriented(img, notes)
                region = crop(img.size[1], img.size[0])
                step = max(1, -(-max(img.size) // PREVIEW_SIDE))
                preview = to_rgb(img.resize((max(1, img.size[0] // step), max(1, img.size[1] // step)),
                                            Image.NEAREST), transpose=False)
                if region is not None:
                    img = img.crop((region.x, region.y, region.x + region.width, region.y + region.height))
            pixels = to_rgb(img, notes, transpose=crop is None)
    except ImageReadError:
        raise
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001
        # Pillow raises OSError, ValueError, SyntaxError...; its plugins more (found by fuzzing:
        # pillow-jxl a RuntimeError, pillow-heif an EOFError): a damaged file is a sentence
        # a plugin's decoder may say more than one line (pillow-jxl: how to build libjxl)
        detail = ("its decoder reported an error" if isinstance(e, RuntimeError)
                  else (str(e).strip().splitlines() or [type(e).__name__])[0])
        raise ImageReadError(f"{name} could not be read as an image ({detail}); "
                             "open a PNG, JPEG, TIFF, WebP or other image file.") from None
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ImageReadError(f"{name} has no pixels.")
    return RGBImage(pixels, Path(name).name, notes, region, preview)


def _check_claimed_size(img: Image.Image, name: str) -> None:
    """Refuse a file too short for the size its header claims, before Pillow allocates the
    whole image: an uncompressed one (PPM, BMP, TGA, raw TIFF...) needs at least one bit per
    pixel; a compressed one claiming more than LARGE_IMAGE_BYTES of pixels, at least
    1/MAX_COMPRESSION of them (no photo compresses more). So a small file cannot make us
    allocate a large picture."""
    fp = getattr(img, "fp", None)
    if fp is None:
        return
    pos = fp.tell()
    end = fp.seek(0, io.SEEK_END)
    fp.seek(pos)
    w, h = img.size
    tiles = getattr(img, "tile", None) or []
    if tiles and all(t[0] == "raw" for t in tiles):
        need = min(t[2] for t in tiles) + w * h // 8
    elif 3 * w * h > LARGE_IMAGE_BYTES:
        need = 3 * w * h // MAX_COMPRESSION
    else:
        return
    if end < need:
        raise ImageReadError(f"{name} claims {w}x{h} pixels but holds only {end} bytes, too few for "
                             "that many; the file is truncated or damaged.")


def content_key(pixels: np.ndarray) -> str:
    """32 hex digits of SHA-256 over an image's shape, type and pixels: the same picture under
    any name has the same key (the classical cache and MS-SSIM's reference use it)."""
    h = hashlib.sha256(f"{pixels.shape}{pixels.dtype}".encode())
    h.update(np.ascontiguousarray(pixels).data)
    return h.hexdigest()[:32]


def save_rgb(pixels: np.ndarray, path) -> None:
    with atomic_path(path) as tmp:  # never a partial image under the final name
        Image.fromarray(pixels).save(tmp)


def pad_to_multiple(pixels: np.ndarray, multiple: int = 16) -> np.ndarray:
    """Pad (H, W, C) by edge replication up to multiples of `multiple` (cropped back later).

    Replication rather than zeros: a flat border costs the codec almost nothing to code
    and does not drag the edge blocks' reconstruction toward black."""
    h, w = pixels.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    if ph == 0 and pw == 0:
        return pixels
    return np.pad(pixels, ((0, ph), (0, pw), (0, 0)), mode="edge")


def tile_grid(height: int, width: int, tile: int) -> list[tuple[int, int, int, int]]:
    """(y, x, h, w) tiles covering a padded image in raster order; edge tiles are smaller.

    `tile` and the padded size are multiples of 16, so every tile is whole 16x16 blocks and
    the number of code bits does not depend on the tiling."""
    return [(y, x, min(tile, height - y), min(tile, width - x))
            for y in range(0, height, tile) for x in range(0, width, tile)]


def find_images(root) -> list[Path]:
    root = Path(root)
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
