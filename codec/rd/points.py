"""RD points: one record for a point of an RD curve, the loops that make an LSTM's
per-iteration points and a classical codec's sweep, and what is computed from points (a
curve, the mean curve, the progressive check, CompressAI's JSON shape). BD-rates are in
codec/rd/bd.py. The app's session, the batch evaluator and the data set window all use it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from codec.base.errors import CodecError
from codec.classical import get_codec
from codec.lstm import bitstream
from codec.lstm.coder import LSTMCodec
from codec.quality.metrics import msssim_and_ssim, msssim_db, psnr, ssimulacra2
from codec.imaging.units import bpp as bits_per_pixel


@dataclass
class RDPoint:
    """A codec at one setting on one image: the real size, the metrics, and (in the app)
    the reconstruction. `setting`: the quality or rate of a classical codec, the iteration
    count of the LSTM."""
    codec: str
    setting: float
    num_bytes: int
    bpp: float
    psnr: float
    ms_ssim: float
    ssim: float = math.nan
    ssimulacra2: float | None = None  # measured on request only (slow)
    label: str = ""
    image: str = ""
    encode_seconds: float = 0.0
    decode_seconds: float = math.nan
    reconstruction: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def iteration(self) -> int:
        """For LSTM points: the iteration count (the setting)."""
        return int(self.setting)

    @property
    def ms_ssim_db(self) -> float:
        return msssim_db(self.ms_ssim)

    def record(self) -> dict:
        """The point without its reconstruction (for caches and files)."""
        return {k: v for k, v in self.__dict__.items() if k != "reconstruction"}


def measure(original: np.ndarray, codec: str, setting, label: str, rec: np.ndarray, num_bytes: int,
            encode_seconds: float = 0.0, image: str = "", with_ssimulacra2: bool = False,
            keep: bool = True) -> RDPoint:
    """An RD point of reconstruction `rec` of `original` (8-bit RGB) from a file of
    `num_bytes`; `keep`: hold on to the reconstruction."""
    ms, single = msssim_and_ssim(original, rec)
    return RDPoint(codec, setting, num_bytes, bits_per_pixel(num_bytes, *original.shape[:2]), psnr(original, rec), ms,
                   single, ssimulacra2(original, rec) if with_ssimulacra2 else None, label, image, encode_seconds,
                   reconstruction=rec if keep else None)


def encode_lstm(codec, pixels: np.ndarray, image: str = "", iterations: int | None = None,
                should_stop: Callable[[], bool] | None = None, with_ssimulacra2: bool = False,
                keep: bool = True, preview: Callable[[int, np.ndarray], None] | None = None,
                draft: Callable[[int, np.ndarray], None] | None = None) -> Iterator[tuple]:
    """The LSTM's points, one per iteration as it is encoded: yields (point, the iteration's
    IterationResult). Encode time is the progressive encoder's running total. `preview(k,
    image)` sees each reconstruction before its metrics are computed; `draft(k, image)`,
    while a refining encoder searches iteration k, the encoder network's own (coder.py)."""
    total = 0.0
    for r in codec.encode_progressive(pixels, iterations, should_stop, draft=draft):
        total += r.seconds
        if preview:
            preview(r.iteration, r.reconstruction)
        yield (measure(pixels, "lstm", r.iteration, f"{r.iteration} it.", r.reconstruction, r.file_bytes, total,
                       image, with_ssimulacra2, keep), r)


def sweep_classical(key: str, pixels: np.ndarray, image: str = "", settings=None,
                     with_ssimulacra2: bool = False, keep: bool = True) -> list[RDPoint]:
    """A classical codec's sweep over its curve settings (or `settings`)."""
    c = get_codec(key)
    out = []
    for s in settings or c.curve_settings:
        r = c.encode(pixels, s)
        p = measure(pixels, key, s, c.setting_label(s), r.reconstruction, r.num_bytes, r.encode_seconds, image,
                    with_ssimulacra2, keep)
        p.decode_seconds = r.decode_seconds
        out.append(p)
    return out


def curve_of(points: list[RDPoint]) -> dict:
    """Points of one codec on one image as a curve in CompressAI's `results` shape (with
    SSIMULACRA2 once every point has it)."""
    return {"setting": [p.setting for p in points], "bpp": [p.bpp for p in points],
            "psnr-rgb": [p.psnr for p in points], "ms-ssim-rgb": [p.ms_ssim for p in points],
            "ssim-rgb": [p.ssim for p in points]} | (
                {"ssimulacra2": [p.ssimulacra2 for p in points]}
                if points and all(p.ssimulacra2 is not None for p in points) else {})


def mean_curve(points: list[RDPoint]) -> dict:
    """Average over images at each setting (CompressAI's convention), sorted by setting."""
    by: dict[float, list[RDPoint]] = {}
    for p in points:
        by.setdefault(p.setting, []).append(p)
    settings = sorted(by)
    m = lambda attr: [float(np.mean([getattr(p, attr) for p in by[s]])) for s in settings]  # noqa: E731
    curve = {"setting": settings, "bpp": m("bpp"), "psnr-rgb": m("psnr"), "ms-ssim-rgb": m("ms_ssim"),
             "ms-ssim-rgb-db": [msssim_db(v) for v in m("ms_ssim")], "ssim-rgb": m("ssim"),
             "encoding_time": m("encode_seconds"), "decoding_time": m("decode_seconds")}
    if all(p.ssimulacra2 is not None for p in points):
        curve["ssimulacra2"] = m("ssimulacra2")
    return curve


def not_progressive(per_image: dict[str, dict[int, float]]) -> dict[str, list[int]]:
    """{image: {iteration: MS-SSIM}} -> the iterations that do not improve on the one
    before, for the images that have any (empty: progressive on every image)."""
    out = {}
    for image, by_k in per_image.items():
        stalls = [k for k in sorted(by_k)[1:] if k - 1 in by_k and by_k[k] <= by_k[k - 1]]
        if stalls:
            out[image] = stalls
    return out


def compressai_json(name: str, description: str, curve: dict) -> dict:
    return {"name": name, "description": description, "results": curve}


def lstm_points(codec: LSTMCodec, pixels: np.ndarray, name: str, iterations: int | None = None,
                check_decode: bool = True, with_ssimulacra2: bool = False) -> list[RDPoint]:
    """One point per iteration (rd.encode_lstm); then a decoder replays the file, which must
    give the same pixels (its time is each point's decode time)."""
    steps = list(encode_lstm(codec, pixels, name, iterations, with_ssimulacra2=with_ssimulacra2, keep=False))
    points = [p for p, _ in steps]
    if check_decode:
        header = codec.header(pixels.shape[0], pixels.shape[1], len(steps))
        data = bitstream.assemble(header, [r.block for _, r in steps])
        for (k, rec, secs), (p, r) in zip(codec.decode_progressive(data), steps):
            if not np.array_equal(rec, r.reconstruction):
                raise CodecError(f"decoding {name} at iteration {k} did not reproduce the encoder's image.")
            p.decode_seconds = secs
    return points


def classical_points(codec_key: str, pixels: np.ndarray, name: str, with_ssimulacra2: bool = False) -> list[RDPoint]:
    return sweep_classical(codec_key, pixels, name, with_ssimulacra2=with_ssimulacra2, keep=False)
