"""The codecs Pillow and its plugins provide: JPEG (4:2:0 or 4:4:4), WebP, JPEG 2000, AVIF,
HEVC intra in HEIF (pillow-heif: x265 and libde265, the BPG-class anchor of learned
compression papers) and JPEG XL (pillow-jxl-plugin: libjxl)."""
from __future__ import annotations

from codec.classical.base import ClassicalCodec
from codec.imaging import pillow_plugins


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
    """A codec a Pillow plugin package provides (codec/imaging/pillow_plugins.py registers it)."""
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
