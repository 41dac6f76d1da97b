"""A data set as a whole: every image's RD points for the LSTM and the classical codecs,
cached on disk, their mean curves, the BD-rate of every codec against an anchor and each
image's LSTM BD-rate. `lstm-codec eval` and the app's data set window share it.

The cache (codec/rd/sample_cache.py, one entry per image and curve) is keyed by the image's
content, and for the LSTM by the model id, the encoder's options and a hash of the codec's
own source (a change to the network code or the bitstream recomputes); for a classical
codec by its library, settings and the metrics' definition. Entries are written atomically,
so two app instances sharing the cache corrupt nothing; reopening a data set is instant.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from codec.lstm.coder import LSTMCodec
from codec.quality import registry
from codec.rd.points import RDPoint, classical_points, lstm_points, mean_curve, reconstructions
from codec.rd.bd import DEFAULT_SCALE, bd_rate_interval, bd_rates, overlap
from codec.imaging.imageio import content_key
from codec.rd.fingerprint import classical_spec, lstm_spec
from codec.rd.sample_cache import SampleCache


def _cached(cache: SampleCache, image: str, key: str, spec: dict, name: str, pixels: np.ndarray, compute,
            codec: LSTMCodec | None, asked: tuple[str, ...]) -> list[RDPoint]:
    """A curve from the cache where it has one; a cached curve that lacks a metric now wanted
    (asked for, newly registered, or of another version) is measured on that metric alone,
    on its files decoded again, not encoded again."""
    want = [*registry.fast(), *asked]
    hit = cache.get_points(image, key, spec)
    if hit is not None:
        records, data = hit
        points = [RDPoint.from_record(r, image=name) for r in records]
        if not any(p.missing(want) for p in points):
            return points
        if data:
            for p, rec in zip(points, reconstructions(codec, points, data)):
                p.add_quality(pixels, want, rec)
            cache.put_points(image, key, spec, [p.record() for p in points], data)
            return points
    points, data = compute()
    cache.put_points(image, key, spec, [p.record() for p in points], data)
    return points


def curve_points(pixels: np.ndarray, name: str, key: str, codec: LSTMCodec | None, iterations: int | None = None,
                 asked: tuple[str, ...] = (), cache: SampleCache | None = None,
                 image: str | None = None) -> list[RDPoint]:
    """One curve of one image, on the fast metrics and the on-request ones `asked`: the LSTM's
    points per iteration (`key` "lstm") or a classical codec's sweep, from the cache when it
    has them. `image`: the pixels' content key, when the caller has it already."""
    cache = cache or SampleCache.default()
    image = image or content_key(pixels)
    asked = tuple(asked)
    if key == "lstm":
        return _cached(cache, image, "lstm", lstm_spec(codec, iterations), name, pixels,
                       lambda: lstm_points(codec, pixels, name, iterations, asked=asked), codec, asked)
    return _cached(cache, image, key, classical_spec(key), name, pixels,
                   lambda: classical_points(key, pixels, name, asked), None, asked)


def image_points(pixels: np.ndarray, name: str, codec: LSTMCodec, keys, iterations: int | None = None,
                 asked: tuple[str, ...] = (), cache: SampleCache | None = None,
                 should_stop: Callable[[], bool] | None = None) -> list[RDPoint] | None:
    """One image's RD points: the LSTM's per iteration, then each classical codec's curve,
    from the cache where it has them. None when stopped."""
    cache = cache or SampleCache.default()
    image = content_key(pixels)
    points = []
    for key in ["lstm", *keys]:
        if should_stop and should_stop():
            return None
        points += curve_points(pixels, name, key, codec, iterations, asked, cache, image)
    return points


def model_points(pixels: np.ndarray, name: str, codec: LSTMCodec, label: str, iterations: int | None = None,
                 asked: tuple[str, ...] = (), cache: SampleCache | None = None) -> list[RDPoint]:
    """Another LSTM model's points on an image (Figure 5 over a data set), as codec
    "lstm:<label>"; cached like the model in use's."""
    points = curve_points(pixels, name, "lstm", codec, iterations, asked, cache)
    return [dataclasses.replace(p, codec="lstm:" + label) for p in points]


@dataclass
class DatasetSummary:
    """Mean curves, BD-rates against an anchor, and each image's LSTM BD-rate."""
    images: list[str]
    curves: dict[str, dict] = field(default_factory=dict)  # codec key -> CompressAI-shaped mean curve
    bd: dict[str, dict[str, float]] = field(default_factory=dict)  # codec key -> {metric: % vs anchor}
    per_image: dict[str, dict[str, float]] = field(default_factory=dict)  # image -> {metric: LSTM % vs anchor}
    anchor: str = "jpeg"
    method: str = "pchip"  # the BD interpolation (codec/rd/bd.py METHODS)
    # codec key -> the MS-SSIM dB BD-rate's 95% interval across the images, and the dB range it spans
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    overlaps: dict[str, tuple[float, float] | None] = field(default_factory=dict)


def summarize(points: list[RDPoint], anchor: str = "jpeg", known: dict | None = None,
              method: str = "pchip", published: dict | None = None) -> DatasetSummary:
    """From the points of complete images (each with every codec's curve). `known`: a dict
    kept by the caller across calls, so each image's BD-rates against an anchor are computed
    once (a data set window summarizes again after every image). Intervals across the images
    come from `intervals` (seconds of work: the caller decides when). `published`: key -> mean curve
    of published curves measured on these images (codec/rd/published.py), drawn, tabled and
    usable as the anchor (no per-image BD-rates against them: they have no per-image points)."""
    known = {} if known is None else known
    images = list(dict.fromkeys(p.image for p in points))
    keys = list(dict.fromkeys(p.codec for p in points))
    out = DatasetSummary(images, anchor=anchor, method=method)
    for k in keys:
        out.curves[k] = mean_curve([p for p in points if p.codec == k])
    measured = set(keys)  # codecs with per-image points: the per-image BD-rates need an anchor among them
    out.curves.update(published or {})
    keys += list(published or {})
    if anchor in out.curves:
        for k in keys:
            if k != anchor:
                out.bd[k] = bd_rates(out.curves[anchor], out.curves[k], method)
                out.overlaps[k] = overlap(out.curves[anchor], out.curves[k], DEFAULT_SCALE)
        for image in images if anchor in measured else ():
            if (image, anchor, method) not in known:
                mine = [p for p in points if p.image == image]
                known[image, anchor, method] = bd_rates(mean_curve([p for p in mine if p.codec == anchor]),
                                                        mean_curve([p for p in mine if p.codec == "lstm"]), method)
            out.per_image[image] = known[image, anchor, method]
    return out


def intervals(points: list[RDPoint], anchor: str, method: str = "pchip") -> dict[str, tuple[float, float]]:
    """Each codec's MS-SSIM dB BD-rate against `anchor`: its 95% interval across the images
    (codec/rd/bd.py bd_rate_interval; about a second per codec on Kodak)."""
    of: dict[str, list[RDPoint]] = {}
    for p in points:
        of.setdefault(p.codec, []).append(p)
    return {k: bd_rate_interval(of[anchor], v, method) for k, v in of.items() if k != anchor and anchor in of}
