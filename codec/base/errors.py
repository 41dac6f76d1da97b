"""The codec's own exceptions. Each message is a sentence a user can act on."""


class CodecError(Exception):
    """Base class: anything the user can fix (bad input, bad file, bad model)."""


class ImageReadError(CodecError):
    """An input could not be read as an image."""


class BitstreamError(CodecError):
    """A .lstm file is malformed, truncated, or not one of ours."""


class ModelError(CodecError):
    """A model checkpoint could not be loaded or does not fit the file."""


class SettingsError(CodecError, ValueError):
    """Settings (e.g. for training) that cannot work together."""
