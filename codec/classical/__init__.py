"""The classical codecs the LSTM is compared with: Pillow's and its plugins', and your own (plugins, command codecs).

The names below are the public interface a codec plugin may use (docs/plugins.md).
"""
from codec.base.errors import CodecError
from codec.classical.base import ClassicalCodec, ClassicalResult
from codec.classical.command import CommandCodec
from codec.classical.registry import BUILT_IN, CODECS, available_codecs, get_codec, register
from codec.classical.sweep import Match, match_bpp, rd_curve

__all__ = ["BUILT_IN", "CODECS", "ClassicalCodec", "ClassicalResult", "CodecError", "CommandCodec", "Match",
           "available_codecs", "get_codec", "match_bpp", "rd_curve", "register"]
