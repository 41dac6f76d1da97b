"""A codec defined only by two external commands (a TOML file; codec/classical/plugins.py finds it):

    key = "bpg"                       # what --classical and the app call it
    label = "BPG (libbpg)"
    suffix = ".bpg"
    quality = [0, 51]                 # the {quality} range; integers unless float = true
    higher_is_better = false          # true when a higher {quality} makes bigger files
    curve = [51, 45, 40, 36, 32, 28, 24, 20]   # the settings of the RD curve (optional)
    encode = "bpgenc -q {quality} -o {output} {input}"   # {input}: a PNG we write
    decode = "bpgdec -o {output} {input}"                # {output}: a PNG (or PPM) we read

bpp comes from the bytes the encoder wrote. Commands run without a shell, in a temporary
folder, with a time limit; a command that fails raises a CodecError quoting its last line
of stderr, and the app shows it where the codec's results would be.
"""
from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import numpy as np
from PIL import Image

from codec.classical.base import ClassicalCodec
from codec.base.errors import CodecError

TIMEOUT = 600  # seconds a command may take on one image


class CommandCodec(ClassicalCodec):
    def __init__(self, key: str, label: str, suffix: str, encode: str, decode: str, low, high,
                 curve=(), integer: bool = True, higher_is_better: bool = True, source: str = ""):
        self.key, self.label, self.suffix = key, label, suffix
        self.encode_cmd, self.decode_cmd = encode, decode
        self.integer, self.higher_is_better, self.source = integer, higher_is_better, source
        # the bisection wants files to grow with the setting: a QP-like quality is mirrored
        self._lo, self._hi = low, high
        self.low, self.high = (low, high) if higher_is_better else (-high, -low)
        settings = list(curve) or [int(round(v)) if integer else float(v) for v in np.linspace(low, high, 10)]
        self.curve_settings = tuple(sorted(self._setting(q) for q in settings))

    @classmethod
    def from_toml(cls, path) -> "CommandCodec":
        path = Path(path)
        try:
            spec = tomllib.loads(path.read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise CodecError(f"the codec file {path} could not be read ({e}); fix its TOML.") from None
        missing = [k for k in ("key", "encode", "decode", "quality") if k not in spec]
        if missing:
            raise CodecError(f"the codec file {path} lacks {', '.join(missing)}; see docs/plugins.md.")
        q = spec["quality"]
        if not (isinstance(q, list) and len(q) == 2 and all(isinstance(v, (int, float)) for v in q) and q[0] < q[1]):
            raise CodecError(f"the codec file {path} gives quality = {q!r}; write [lowest, highest].")
        for field in ("encode", "decode"):
            for name in ("{input}", "{output}"):
                if name not in spec[field]:
                    raise CodecError(f"the {field} command in {path} has no {name}; see docs/plugins.md.")
        integer = not spec.get("float", False)
        return cls(str(spec["key"]), str(spec.get("label", spec["key"])), str(spec.get("suffix", ".bin")),
                   spec["encode"], spec["decode"], q[0], q[1], tuple(spec.get("curve", ())), integer,
                   bool(spec.get("higher_is_better", True)), str(path))

    def _setting(self, quality):
        """The registry's setting (grows with file size) of a command's quality value."""
        return quality if self.higher_is_better else -quality

    def quality(self, setting):
        q = setting if self.higher_is_better else -setting
        return int(round(q)) if self.integer else float(q)

    def available(self) -> bool:
        return True

    def library(self) -> str:
        return f"commands from {self.source or 'a codec file'}: {self.encode_cmd!r} / {self.decode_cmd!r}"

    def cache_key(self, setting) -> dict:
        return {"quality": self.quality(setting), "encode": self.encode_cmd, "decode": self.decode_cmd}

    def setting_label(self, setting) -> str:
        return f"q={self.quality(setting)}"

    def _run(self, template: str, what: str, **names) -> None:
        names = {k: str(v) for k, v in names.items()} | {"python": sys.executable}
        try:
            argv = [part.format(**names) for part in shlex.split(template)]
        except (KeyError, ValueError, IndexError) as e:
            raise CodecError(f"{self.label}'s {what} command {template!r} is malformed ({e}); "
                             f"fix {self.source or 'its codec file'}.") from None
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, cwd=names["dir"])
        except FileNotFoundError:
            raise CodecError(f"{self.label}'s {what} command {argv[0]!r} was not found; install it or fix "
                             f"{self.source or 'its codec file'}.") from None
        except subprocess.TimeoutExpired:
            raise CodecError(f"{self.label}'s {what} command took more than {TIMEOUT} s and was stopped.") from None
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no message"])[-1]
            raise CodecError(f"{self.label}'s {what} command failed (exit {done.returncode}): {last}")

    def encode_bytes(self, pixels: np.ndarray, setting) -> bytes:
        with tempfile.TemporaryDirectory(prefix="lstm-compare-codec-") as d:
            src, out = Path(d) / "input.png", Path(d) / f"output{self.suffix}"
            Image.fromarray(pixels, "RGB").save(src)
            self._run(self.encode_cmd, "encode", input=src, output=out, quality=self.quality(setting), dir=d)
            if not out.is_file() or out.stat().st_size == 0:
                raise CodecError(f"{self.label}'s encode command wrote no {out.name}.")
            return out.read_bytes()

    def decode(self, data: bytes) -> np.ndarray:
        with tempfile.TemporaryDirectory(prefix="lstm-compare-codec-") as d:
            src, out = Path(d) / f"input{self.suffix}", Path(d) / "output.png"
            src.write_bytes(data)
            self._run(self.decode_cmd, "decode", input=src, output=out, dir=d)
            try:
                with Image.open(out) as img:
                    return np.asarray(img.convert("RGB"), dtype=np.uint8)
            except (OSError, ValueError) as e:
                raise CodecError(f"{self.label}'s decode command wrote no readable image ({e}).") from None
