"""RD points: one record for a point of an RD curve, the loops that make an LSTM's
per-iteration points and a classical codec's sweep, and what is computed from points (a
curve, the mean curve, the progressive check, CompressAI's JSON shape). BD-rates are in
codec/rd/bd.py. The app's session, the batch evaluator and the data set window all use it.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from codec.base.errors import CodecError
from codec.classical import get_codec
from codec.lstm import bitstream
from codec.lstm.coder import LSTMCodec
from codec.quality import registry
from codec.imaging.units import bpp as bits_per_pixel

# The registry's functions import the metrics lazily (a command line reads the table without
# torch); whatever measures points loads them now, on the importing thread: OpenCV's bootstrap
# fails when two worker threads import it at once.
importlib.import_module("codec.quality.metrics")


@dataclass
class RDPoint:
    """A codec at one setting on one image: the real size, the quality (metric id -> value, by
    codec/quality/registry.py; on-request metrics only once asked for), and (in the app) the
    reconstruction. `setting`: the quality or rate of a classical codec, the iteration count of
    the LSTM."""
    codec: str
    setting: float
    num_bytes: int
    bpp: float
    quality: dict[str, float] = field(default_factory=dict)
    label: str = ""
    image: str = ""
    encode_seconds: float = 0.0
    decode_seconds: float = math.nan
    reconstruction: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def iteration(self) -> int:
        """For LSTM points: the iteration count (the setting)."""
        return int(self.setting)

    def value(self, scale_id: str) -> float:
        """The point on a quality scale (a metric id, or its "-db" scale); NaN when not measured."""
        scale = registry.scale(scale_id)
        return scale.of(self.quality.get(scale.metric.id))

    def missing(self, metric_ids) -> list[str]:
        """Which of `metric_ids` this point has not been measured on."""
        return [k for k in metric_ids if k not in self.quality]

    def add_quality(self, original: np.ndarray, metric_ids, reconstruction: np.ndarray | None = None) -> None:
        """Measure the metrics among `metric_ids` that this point lacks, from `reconstruction`
        (its own, by default)."""
        todo = self.missing(metric_ids)
        if todo:
            rec = self.reconstruction if reconstruction is None else reconstruction
            self.quality.update(registry.measure(original, rec, todo))

    def record(self) -> dict:
        """The point without its reconstruction (for caches and files), with the version of each
        metric it holds."""
        out = {k: v for k, v in self.__dict__.items() if k not in ("reconstruction", "quality")}
        return out | {"quality": dict(self.quality), "versions": registry.versions(self.quality)}

    @classmethod
    def from_record(cls, record: dict, **changes) -> "RDPoint":
        """A point from record(); a value measured by another version of its metric, or by a
        metric no longer registered, is dropped (measured again when asked for), never mixed."""
        r = {**record, **changes}
        now, then = registry.versions(), r.pop("versions", {})
        r["quality"] = {k: v for k, v in r.get("quality", {}).items() if k in now and then.get(k) == now[k]}
        return cls(**r)


def measure(original: np.ndarray, codec: str, setting, label: str, rec: np.ndarray, num_bytes: int,
            encode_seconds: float = 0.0, image: str = "", asked: tuple[str, ...] = (),
            keep: bool = True) -> RDPoint:
    """An RD point of reconstruction `rec` of `original` (8-bit RGB) from a file of
    `num_bytes`, on every fast metric and the on-request ones `asked`; `keep`: hold on to the
    reconstruction."""
    quality = registry.measure(original, rec, [*registry.fast(), *asked])
    return RDPoint(codec, setting, num_bytes, bits_per_pixel(num_bytes, *original.shape[:2]), quality, label, image,
                   encode_seconds, reconstruction=rec if keep else None)


def encode_lstm(codec, pixels: np.ndarray, image: str = "", iterations: int | None = None,
                should_stop: Callable[[], bool] | None = None, asked: tuple[str, ...] = (),
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
                       image, asked, keep), r)


def measured_on(points: list[RDPoint]) -> list[str]:
    """The metric ids every point has, in the registry's order."""
    return [k for k in registry.ids() if points and all(k in p.quality for p in points)]


def curve_of(points: list[RDPoint]) -> dict:
    """Points of one codec on one image as a curve in CompressAI's `results` shape: one list per
    metric that every point has, keyed by its id."""
    return {"setting": [p.setting for p in points], "bpp": [p.bpp for p in points]} | {
        k: [p.quality[k] for p in points] for k in measured_on(points)}


def mean_curve(points: list[RDPoint]) -> dict:
    """Average over images at each setting (CompressAI's convention), sorted by setting; each
    metric with a dB scale also on it (the dB of the mean, as papers plot MS-SSIM)."""
    by: dict[float, list[RDPoint]] = {}
    for p in points:
        by.setdefault(p.setting, []).append(p)
    settings = sorted(by)
    m = lambda get: [float(np.mean([get(p) for p in by[s]])) for s in settings]  # noqa: E731
    curve = {"setting": settings, "bpp": m(lambda p: p.bpp)}
    for k in measured_on(points):
        curve[k] = m(lambda p: p.quality[k])
        metric = registry.get(k)
        if metric.db:
            curve[metric.bd_scale] = [metric.db(v) for v in curve[k]]
    curve["encoding_time"] = m(lambda p: p.encode_seconds)
    curve["decoding_time"] = m(lambda p: p.decode_seconds)
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


def lstm_points(codec: LSTMCodec, pixels: np.ndarray, name: str, iterations: int | None = None,
                check_decode: bool = True, asked: tuple[str, ...] = ()) -> tuple[list[RDPoint], bytes]:
    """One point per iteration (rd.encode_lstm), and the .lstm file of them all; a decoder
    replays the file, which must give the same pixels (its time is each point's decode time)."""
    steps = list(encode_lstm(codec, pixels, name, iterations, asked=asked, keep=False))
    points = [p for p, _ in steps]
    header = codec.header(pixels.shape[0], pixels.shape[1], len(steps))
    data = bitstream.assemble(header, [r.segment for _, r in steps])
    if check_decode:
        for (k, rec, secs), (p, r) in zip(codec.decode_progressive(data), steps):
            if not np.array_equal(rec, r.reconstruction):
                raise CodecError(f"decoding {name} at iteration {k} did not reproduce the encoder's image.")
            p.decode_seconds = secs
    return points, data


def classical_points(codec_key: str, pixels: np.ndarray, name: str,
                     asked: tuple[str, ...] = ()) -> tuple[list[RDPoint], bytes]:
    """A classical codec's sweep over its curve settings, and its files one after another (each
    point's num_bytes says where one ends)."""
    c, points, files = get_codec(codec_key), [], []
    for s in c.curve_settings:
        r = c.encode(pixels, s)
        p = measure(pixels, codec_key, s, c.setting_label(s), r.reconstruction, r.num_bytes, r.encode_seconds, name,
                    asked, keep=False)
        p.decode_seconds = r.decode_seconds
        points.append(p)
        files.append(r.data)
    return points, b"".join(files)


def reconstructions(codec, points: list[RDPoint], data: bytes) -> list[np.ndarray]:
    """The pictures behind points whose files are `data` (lstm_points' or classical_points'):
    what a cached curve needs to be measured on a metric it lacks, without encoding again.
    `codec`: the LSTMCodec for LSTM points, None for a classical codec's."""
    if codec is not None:
        return [rec for _, rec, _ in codec.decode_progressive(data)][:len(points)]
    c, out, at = get_codec(points[0].codec), [], 0
    for p in points:
        out.append(c.decode(data[at:at + p.num_bytes]))
        at += p.num_bytes
    return out
