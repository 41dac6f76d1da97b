"""Pillow plugins for the formats Pillow lacks: HEIF/HEIC (pillow-heif) and JPEG XL
(pillow-jxl-plugin). Importing this registers whichever is installed, so the codecs can
write those files and the image loader can open them."""
from __future__ import annotations

from importlib import import_module, metadata

_MODULES = {"pillow-heif": "pillow_heif", "pillow-jxl-plugin": "pillow_jxl"}
_LOADED: dict[str, bool] = {}


def _load(plugin: str) -> bool:
    if plugin not in _LOADED:
        try:
            module = import_module(_MODULES[plugin])
            if plugin == "pillow-heif":
                module.register_heif_opener()  # pillow_jxl registers itself on import
            _LOADED[plugin] = True
        except Exception:  # not installed, or its native library does not load here
            _LOADED[plugin] = False
    return _LOADED[plugin]


def available(plugin: str) -> bool:
    return _load(plugin)


def describe(plugin: str) -> str:
    """The plugin and the codec library it wraps, for result files."""
    if not _load(plugin):
        return f"{plugin} (not installed)"
    version = metadata.version(plugin)
    if plugin == "pillow-heif":
        import pillow_heif
        info = pillow_heif.libheif_info()
        return f"pillow-heif {version}, libheif {info.get('libheif', '?')}, {info.get('HEIF', 'x265')}"
    return f"pillow-jxl-plugin {version} (libjxl)"


def suffixes() -> set[str]:
    """Image file suffixes the installed plugins add to the loader."""
    out = set()
    if _load("pillow-heif"):
        out |= {".heic", ".heif"}
    if _load("pillow-jxl-plugin"):
        out.add(".jxl")
    return out
