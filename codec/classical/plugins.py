"""Codecs of your own, without editing lstm-compare: found when the registry is built
(codec/classical/registry.py) and then listed everywhere the built-in ones are (the app's selector
and plot, --codec, --classical, lstm-codec eval).

Two kinds:

- **A Python package** that declares an entry point in the group `lstm_compare.codecs`,
  naming a `codec.classical.ClassicalCodec` subclass (or instance): set `key`, `label`,
  `suffix`, `low`/`high` and `curve_settings`; implement `encode_bytes(pixels, setting)` and
  `decode(data)`. In its pyproject.toml:

      [project.entry-points."lstm_compare.codecs"]
      mycodec = "mypackage.codec:MyCodec"

- **External commands**, described by a TOML file (docs/plugins.md): encode and decode
  command templates with `{input}`, `{output}`, `{quality}` (and `{python}`, the Python
  running lstm-compare). Files are read from the folder `~/.config/lstm-compare/codecs/`
  (`$XDG_CONFIG_HOME` if set) and from every file or folder in `LSTM_COMPARE_CODECS`
  (separated by the OS's path separator).

A plugin that fails to load is left out and its reason kept (`problems()`): the app shows
it in the status bar, an unknown --classical key mentions it; everything else goes on.
"""
from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

from codec.base.errors import CodecError
from codec.classical.base import ClassicalCodec
from codec.classical.command import CommandCodec

GROUP = "lstm_compare.codecs"
_PROBLEMS: list[str] = []


def problem(message: str) -> None:
    _PROBLEMS.append(message)


def problems() -> list[str]:
    """Why each plugin that did not load was left out, one sentence each."""
    return list(_PROBLEMS)


def command_codec_files() -> list[Path]:
    home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    places = [home / "lstm-compare" / "codecs"]
    places += [Path(p) for p in os.environ.get("LSTM_COMPARE_CODECS", "").split(os.pathsep) if p]
    files = []
    for place in places:
        if place.is_dir():
            files += sorted(place.glob("*.toml"))
        elif place.is_file():
            files.append(place)
    return files


def _entry_point_codecs() -> list:
    out = []
    for ep in metadata.entry_points(group=GROUP):
        try:
            obj = ep.load()
            codec = obj() if isinstance(obj, type) else obj
            if not isinstance(codec, ClassicalCodec):
                raise TypeError(f"{ep.value} is not a codec.classical.ClassicalCodec")
            out.append(codec)
        except Exception as e:  # a plugin's own bug or missing dependency: left out, said why
            problem(f"the codec plugin {ep.name!r} ({ep.value}) did not load: {type(e).__name__}: {e}")
    return out


def discover() -> list:
    """Every plugin codec that loads: the entry points' first, then the command codecs'."""
    codecs = _entry_point_codecs()
    for path in command_codec_files():
        try:
            codecs.append(CommandCodec.from_toml(path))
        except CodecError as e:
            problem(str(e))
    return codecs
