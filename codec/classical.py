"""Classical codecs through Pillow and its plugins: JPEG (4:2:0 or 4:4:4), WebP, JPEG 2000,
AVIF, HEVC intra in HEIF (pillow-heif: x265 and libde265, the BPG-class anchor of learned
compression papers) and JPEG XL (pillow-jxl-plugin: libjxl).

Everything happens in memory; bpp always comes from the real encoded bytes. Each codec has
one quality-like setting; `rd_curve` sweeps it, `match_bpp` bisects it to hit a target.
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from PIL import Image, features

from . import pillow_plugins
from .errors import CodecError
from .units import bpp as bits_per_pixel


@dataclass
class ClassicalResult:
    codec: str
    setting: float
    data: bytes = field(repr=False)
    reconstruction: np.ndarray = field(repr=False)
    bpp: float = 0.0
    encode_seconds: float = 0.0
    decode_seconds: float = 0.0

    @property
    def num_bytes(self) -> int:
        return len(self.data)

    @property
    def setting_label(self) -> str:
        return self.codec_obj.setting_label(self.setting)

    @cached_property
    def codec_obj(self) -> "ClassicalCodec":
        return get_codec(self.codec)


class ClassicalCodec:
    """A classical codec: bytes from pixels at one quality-like setting, pixels from bytes.

    A codec of your own (a plugin, codec/plugins.py) subclasses this and sets `key`, `label`,
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
        return ClassicalResult(self.key, setting, data, rec, bits_per_pixel(len(data), h, w), t1 - t0, t2 - t1)

    def decode(self, data: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(data)) as dec:
            return np.asarray(dec.convert("RGB"), dtype=np.uint8)


class JPEG(ClassicalCodec):
    key, label, suffix, pil_feature = "jpeg", "JPEG 4:2:0", ".jpg", "jpg"
    low, high = 1, 95  # above 95 libjpeg's own docs say the size grows for nothing
    curve_settings = (2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95)
    subsampling = 2  # Pillow: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0

    def save_kwargs(self, setting):
        return {"format": "JPEG", "quality": int(setting), "subsampling": self.subsampling, "optimize": True}


class JPEG444(JPEG):
    key, label = "jpeg444", "JPEG 4:4:4"
    subsampling = 0


class WebP(ClassicalCodec):
    key, label, suffix, pil_feature = "webp", "WebP", ".webp", "webp"
    low, high = 0, 100
    curve_settings = (0, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 100)

    def save_kwargs(self, setting):
        return {"format": "WEBP", "quality": int(setting), "method": 6}


class JPEG2000(ClassicalCodec):
    """Setting: target bits per pixel (OpenJPEG's rate control, one quality layer)."""
    key, label, suffix, pil_feature = "jpeg2000", "JPEG 2000", ".jp2", "jpg_2000"
    integer = False
    setting_is_bpp = True
    low, high = 0.02, 8.0
    curve_settings = (0.0625, 0.125, 0.1875, 0.25, 0.375, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)

    def save_kwargs(self, setting):
        return {"format": "JPEG2000", "quality_mode": "rates", "quality_layers": [24.0 / float(setting)],
                "irreversible": True}

    def setting_label(self, setting):
        return f"rate={float(setting):.3g} bpp"


class AVIF(ClassicalCodec):
    key, label, suffix, pil_feature = "avif", "AVIF", ".avif", "avif"
    low, high = 0, 100
    curve_settings = (0, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95)
    speed = 6

    def save_kwargs(self, setting):
        return {"format": "AVIF", "quality": int(setting), "speed": self.speed, "subsampling": "4:2:0"}


class PluginCodec(ClassicalCodec):
    """A codec a Pillow plugin package provides (codec/pillow_plugins.py registers it)."""
    plugin = ""  # the package's distribution name

    def available(self) -> bool:
        return pillow_plugins.available(self.plugin)

    def library(self) -> str:
        return pillow_plugins.describe(self.plugin)

    def unavailable_reason(self) -> str:
        return f"{self.label} needs the {self.plugin} package; install it with 'pip install {self.plugin}'."


class HEIC(PluginCodec):
    """HEVC intra (x265's default preset) in a HEIF file, 4:2:0."""
    key, label, suffix, plugin = "heic", "HEIC (HEVC intra)", ".heic", "pillow-heif"
    low, high = 0, 100
    curve_settings = (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90)  # q=90: ~3.5 bpp on photos

    def save_kwargs(self, setting):
        return {"format": "HEIF", "quality": int(setting), "chroma": 420}


class JXL(PluginCodec):
    """JPEG XL, lossy (VarDCT), libjxl's default effort 7."""
    key, label, suffix, plugin = "jxl", "JPEG XL", ".jxl", "pillow-jxl-plugin"
    low, high = 0, 100
    curve_settings = (0, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95)

    def save_kwargs(self, setting):
        return {"format": "JXL", "quality": int(setting), "effort": 7}


# The registry: the only place the classical codecs are named (selectors, --classical and
# the figures take their keys from here, in this order); then the plugins' (codec/plugins.py)
CODECS: dict[str, ClassicalCodec] = {c.key: c for c in (JPEG(), JPEG444(), WebP(), JPEG2000(), AVIF(), HEIC(), JXL())}
BUILT_IN = tuple(CODECS)


def register(codec: ClassicalCodec) -> None:
    """Add a codec (a plugin's) to the registry; its key must be new."""
    if not codec.key or codec.key in CODECS or codec.key == "lstm":
        raise CodecError(f"a codec plugin's key {codec.key!r} is empty or already taken; rename it.")
    CODECS[codec.key] = codec


def get_codec(key: str) -> ClassicalCodec:
    try:
        return CODECS[key]
    except KeyError:
        from .plugins import problems
        why = f" (plugins that did not load: {'; '.join(problems())})" if problems() else ""
        raise CodecError(f"unknown codec {key!r}; choose one of {', '.join(CODECS)}{why}.") from None


def available_codecs() -> list[str]:
    return [k for k, c in CODECS.items() if c.available()]


def _load_plugins() -> None:
    from .plugins import discover
    for codec in discover():
        try:
            register(codec)
        except CodecError as e:
            from .plugins import problem
            problem(str(e))


_load_plugins()


def rd_curve(codec: str, pixels: np.ndarray, settings=None) -> list[ClassicalResult]:
    c = get_codec(codec)
    return [c.encode(pixels, s) for s in (settings or c.curve_settings)]


@dataclass
class Match:
    target_bpp: float
    below: ClassicalResult | None   # highest bpp not above the target (None: even the lowest is above)
    closest: ClassicalResult        # nearest bpp either side
    tried: int                      # encodes spent

    @property
    def best(self) -> ClassicalResult:
        """The fair comparison point: not above the target when possible."""
        return self.below or self.closest


def match_bpp(codec: str, pixels: np.ndarray, target_bpp: float, max_steps: int = 14) -> Match:
    """Bisection on the codec's setting for the target bpp.

    Sizes grow with the setting almost everywhere but not strictly (encoders have small
    non-monotonic steps), so after bisection the neighbours are checked too."""
    c = get_codec(codec)
    cache: dict = {}

    def enc(s):
        s = int(s) if c.integer else float(s)
        if s not in cache:
            cache[s] = c.encode(pixels, s)
        return cache[s]

    lo, hi = c.low, c.high
    if c.integer:
        while hi - lo > 1 and len(cache) < max_steps:
            mid = (lo + hi) // 2
            if enc(mid).bpp <= target_bpp:
                lo = mid
            else:
                hi = mid
        for s in range(max(c.low, lo - 1), min(c.high, hi + 1) + 1):
            enc(s)
    elif not getattr(c, "setting_is_bpp", False):
        for _ in range(max_steps):
            mid = (lo + hi) / 2
            if enc(mid).bpp <= target_bpp:
                lo = mid
            else:
                hi = mid
    else:
        # the continuous setting is a rate in bpp: bracket the target closely
        lo_l = np.log(max(lo, target_bpp * 0.6))
        hi_l = np.log(min(hi, max(target_bpp * 1.05, lo * 1.01)))
        for _ in range(min(max_steps, 7)):
            mid = float(np.exp((lo_l + hi_l) / 2))
            if enc(mid).bpp <= target_bpp:
                lo_l = np.log(mid)
            else:
                hi_l = np.log(mid)
        enc(float(np.exp(lo_l)))
    results = list(cache.values())
    below = [r for r in results if r.bpp <= target_bpp]
    best_below = max(below, key=lambda r: r.bpp) if below else None
    closest = min(results, key=lambda r: abs(r.bpp - target_bpp))
    return Match(target_bpp, best_below, closest, len(cache))
