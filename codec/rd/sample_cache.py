"""An on-disk cache of the classical codecs' encodes and their metrics, so that opening an
image a second time (or the same photo under another name) costs no encoding.

Keyed by the image's content (SHA-256 of its pixels), the codec, its exact Pillow save
settings, the codec library's version and the metrics' definition: a new Pillow or a
changed setting is a new entry, never a stale one. An entry holds the encoded bytes (the
reconstruction is decoded from them) and the measured bpp and quality, each value with its
metric's version.

Entries are written to a temporary name and renamed into place, so a second app instance,
or one killed mid-write, never reads a partial entry; a damaged entry reads as missing.
`LSTM_COMPARE_CACHE` picks the folder (default: ~/.cache/lstm-compare); set it to "off" to
disable the cache.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from codec.rd.fingerprint import LAYOUT_VERSION, digest

ENV = "LSTM_COMPARE_CACHE"


def cache_root() -> Path | None:
    value = os.environ.get(ENV, "")
    if value.lower() == "off":
        return None
    if value:
        return Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lstm-compare"


def _entry_name(kind: str, codec_key: str, settings: dict, library: str) -> str:
    """An entry's file name. Each stored metric value carries its metric's version, checked
    when read (RDPoint.from_record), so the name holds no metric versions."""
    spec = {"kind": kind, "codec": codec_key, "settings": settings, "library": library, "layout": LAYOUT_VERSION}
    return f"{codec_key}-{kind}-{digest(spec)}"


class SampleCache:
    """get/put of one classical sample (bytes + metrics) or of a matched setting."""

    def __init__(self, root: Path | None):
        self.root = root

    @classmethod
    def default(cls) -> "SampleCache":
        return cls(cache_root())

    def _path(self, image: str, name: str) -> Path | None:
        return None if self.root is None else self.root / "classical" / image[:2] / image / name.replace("/", "_")

    def _read(self, path: Path | None) -> tuple[dict, bytes] | None:
        if path is None:
            return None
        try:
            raw = path.read_bytes()
            head, _, data = raw.partition(b"\n")
            meta = json.loads(head)
            if meta.get("bytes") != len(data):
                return None  # damaged: read as missing, rewritten on the next put
            return meta, data
        except (OSError, ValueError):
            return None

    def _write(self, path: Path | None, meta: dict, data: bytes = b"") -> None:
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(json.dumps({**meta, "bytes": len(data)}).encode() + b"\n" + data)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only or full disk: the cache is an optimisation, never a failure

    # -- one encode at a setting, with its metrics -------------------------------------
    def get_sample(self, image: str, codec_key: str, settings: dict, library: str):
        return self._read(self._path(image, _entry_name("sample", codec_key, settings, library)))

    def put_sample(self, image: str, codec_key: str, settings: dict, library: str, meta: dict, data: bytes):
        self._write(self._path(image, _entry_name("sample", codec_key, settings, library)), meta, data)

    # -- a whole curve's points on an image (data sets: codec/rd/dataset.py) ------------------
    def get_points(self, image: str, key: str, spec: dict) -> tuple[list[dict], bytes] | None:
        """A curve's point records and the files they were measured on."""
        hit = self._read(self._path(image, _entry_name("points", key, spec, "")))
        return None if hit is None or "points" not in hit[0] else (hit[0]["points"], hit[1])

    def put_points(self, image: str, key: str, spec: dict, points: list[dict], data: bytes = b"") -> None:
        self._write(self._path(image, _entry_name("points", key, spec, "")), {"points": points}, data)

    # -- which setting matched a target bpp --------------------------------------------
    def get_match(self, image: str, codec_key: str, target_bpp: float, library: str):
        hit = self._read(self._path(image, _entry_name("match", codec_key, {"bpp": repr(target_bpp)}, library)))
        return None if hit is None else hit[0].get("setting")

    def put_match(self, image: str, codec_key: str, target_bpp: float, library: str, setting) -> None:
        self._write(self._path(image, _entry_name("match", codec_key, {"bpp": repr(target_bpp)}, library)),
                    {"setting": setting})
