"""The registry: the only place the classical codecs are named, the built-in ones first,
then the plugins'."""
from __future__ import annotations

from codec.base.errors import CodecError
from codec.classical.base import ClassicalCodec
from codec.classical.pillow import AVIF, HEIC, JPEG, JPEG444, JPEG2000, JXL, WebP
from codec.classical.plugins import discover, problem, problems

# Selectors, --classical and the figures take their keys from here, in this order.
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
        why = f" (plugins that did not load: {'; '.join(problems())})" if problems() else ""
        raise CodecError(f"unknown codec {key!r}; choose one of {', '.join(CODECS)}{why}.") from None


def available_codecs() -> list[str]:
    return [k for k, c in CODECS.items() if c.available()]


def _load_plugins() -> None:
    for codec in discover():
        try:
            register(codec)
        except CodecError as e:
            problem(str(e))


_load_plugins()
