"""One image under comparison: the LSTM's progressive results and the classical codecs'.

This is what the GUI (and the CLI's comparison) drive: plain Python, no Qt. Every result
is cached on the session, so going back to an image or moving the slider again costs
nothing. Each kind of result has two halves: one that computes it from values that never
change (the pixels, the codec, a size captured when the work was asked for) and can run
on any thread, and one that stores it. The app runs the first on its worker threads and
the second on the GUI thread (gui/scheduler.py), so a session has one writer; run_lstm,
classical_curve, match and block_costs do both, here, for scripts and tests.

The classical work goes through a *runner*, `runner(fn, *args) -> fn(*args)`: by default
it runs here; the GUI passes one that runs it in a child process, because that work is
mostly Python-level glue that would hold the GIL the GUI thread needs to paint.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np

from codec.lstm import bitstream
from codec.classical import ClassicalResult, get_codec, match_bpp
from codec.lstm.coder import LSTMCodec
from codec.base.errors import CodecError
from codec.quality import registry
from codec.rd.points import RDPoint, curve_of, encode_lstm, measure
from codec.rd.bd import DEFAULT_SCALE, image_bd_rate
from codec.imaging.units import BLOCK, bpp
from codec.imaging.region import Region
from codec.imaging.imageio import content_key
from codec.rd.results import compressai_json
from codec.rd.sample_cache import SampleCache


class NotEncodedYet(ValueError):
    """A match asked for before its LSTM iteration exists (or after a re-encode dropped it)."""


Runner = Callable[..., Any]  # runner(fn, *args) -> fn(*args), wherever it runs


def run_here(fn, *args):
    return fn(*args)


def run_each(runner: Runner, fn, calls, should_stop: Callable[[], bool] | None = None) -> list:
    """[runner(fn, *args) for args in calls], one at a time, stopping early (with the
    results so far) once should_stop() turns True."""
    out = []
    for args in calls:
        if should_stop and should_stop():
            break
        out.append(runner(fn, *args))
    return out


def _measured(original: np.ndarray, r: ClassicalResult) -> RDPoint:
    p = measure(original, r.codec, r.setting, r.setting_label, r.reconstruction, r.num_bytes, r.encode_seconds)
    p.decode_seconds = r.decode_seconds
    return p


def classical_sample(key: str, original: np.ndarray, setting, cache: SampleCache | None = None,
                     image: str | None = None) -> RDPoint:
    """One classical encode at `setting`, measured on the fast metrics, through the on-disk
    cache (codec/rd/sample_cache.py): a hit decodes the cached bytes and measures only what the
    entry lacks (a metric added or changed since). A module-level function, so a runner can
    send it to another process."""
    cache = cache or SampleCache.default()
    image = image or content_key(original)
    c = get_codec(key)
    spec = (image, key, c.cache_key(setting), c.library())
    hit = cache.get_sample(*spec)
    if hit is not None:
        meta, data = hit
        p = RDPoint.from_record({"codec": key, "setting": setting, "num_bytes": len(data),
                                 "bpp": bpp(len(data), *original.shape[:2]), "quality": meta.get("quality", {}),
                                 "versions": meta.get("versions", {}), "label": c.setting_label(setting),
                                 "encode_seconds": meta.get("seconds", 0.0)}, reconstruction=c.decode(data))
        if p.missing(registry.fast()):
            p.add_quality(original, registry.fast())
            _cache_sample(cache, image, p, data)
        return p
    return _measured_and_cached(cache, image, original, c.encode(original, setting))


def classical_file(key: str, original: np.ndarray, setting, cache: SampleCache | None = None) -> bytes:
    """The classical codec's file at `setting`: the on-disk cache's bytes where it holds them
    (every sample the app showed), encoded (and cached) otherwise."""
    cache = cache or SampleCache.default()
    image, c = content_key(original), get_codec(key)
    hit = cache.get_sample(image, key, c.cache_key(setting), c.library())
    if hit is not None:
        return hit[1]
    r = c.encode(original, setting)
    _cache_sample(cache, image, _measured(original, r), r.data)
    return r.data


def _cache_sample(cache: SampleCache, image: str, p: RDPoint, data: bytes) -> None:
    c = get_codec(p.codec)
    record = p.record()
    cache.put_sample(image, p.codec, c.cache_key(p.setting), c.library(),
                     {"quality": record["quality"], "versions": record["versions"], "seconds": p.encode_seconds},
                     data)


def _measured_and_cached(cache: SampleCache, image: str, original: np.ndarray, r: ClassicalResult) -> RDPoint:
    s = _measured(original, r)
    _cache_sample(cache, image, s, r.data)
    return s


def matched_sample(key: str, original: np.ndarray, target_bpp: float, known: dict | None = None) -> RDPoint:
    """The classical codec at `target_bpp` (not above it when it can), measured; the
    setting found is cached on disk with the sample, so a second time costs one decode.
    `known`: the codec's bpp on this image at some settings (match_bpp starts from them)."""
    cache, image, c = SampleCache.default(), content_key(original), get_codec(key)
    setting = cache.get_match(image, key, target_bpp, c.library())
    if setting is None:
        best = match_bpp(key, original, target_bpp, known=known).best
        s = _measured_and_cached(cache, image, original, best)
        cache.put_match(image, key, target_bpp, c.library(), best.setting)  # after its sample
        return s
    return classical_sample(key, original, setting, cache, image)


def block_mse(original: np.ndarray, reconstruction: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """Mean squared error per sample of each block x block tile (edge tiles: over the pixels
    they have), as (ceil(H/block), ceil(W/block))."""
    err = (original.astype(np.float64) - reconstruction.astype(np.float64)) ** 2
    h, w = err.shape[:2]
    bh, bw = -(-h // block), -(-w // block)
    total = np.zeros((bh * block, bw * block))
    count = np.zeros((bh * block, bw * block))
    total[:h, :w] = err.sum(axis=2)
    count[:h, :w] = err.shape[2]
    fold = (bh, block, bw, block)
    return total.reshape(fold).sum(axis=(1, 3)) / count.reshape(fold).sum(axis=(1, 3))


def measure_blocks(original: np.ndarray, chunk: bytes | None, codes: np.ndarray, prev: np.ndarray | None,
                   before: np.ndarray, after: np.ndarray, context=None, t: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Where iteration t's (0-based) bits went, per 16x16 block: the bits the file spends on
    it (the entropy coder's ideal code lengths under its `chunk`, with the model's `context`
    model where the chunk is in the learned mode; the plain layout's (None) C bits) and the
    squared error it removed (MSE per sample of `before` less that of `after`). Both (H/16, W/16)."""
    from codec.lstm.entropy import block_bits
    spent = (block_bits(codes, prev, chunk, context, t) if chunk is not None
             else np.full(codes.shape[1:], float(codes.shape[0])))
    return spent, block_mse(original, before) - block_mse(original, after)


def measured_if_known(original: np.ndarray, reconstruction: np.ndarray, metric_ids) -> dict[str, float] | None:
    """registry.measure, or None where this process's metric table lacks one of the metrics. A
    module-level function, so a runner can send it to another process."""
    if not set(metric_ids) <= set(registry.ids()):
        return None
    return registry.measure(original, reconstruction, metric_ids)


class ImageSession:
    def __init__(self, pixels: np.ndarray, name: str, codec: LSTMCodec, notes=(), runner: Runner = run_here,
                 region: Region | None = None):
        self.original = pixels
        self.region = region  # which part of a large photo `pixels` are (codec/imaging/region.py)
        self.runner = runner
        self.name = name
        self.notes = list(notes)
        self.codec = codec
        self.lstm: list[RDPoint] = []
        self._segments: list[bytes] = []  # each iteration's segment of the .lstm file
        self._codes: list[np.ndarray] = []  # each iteration's code bits, int8 +-1 (C, H/16, W/16)
        self._block_costs: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.lstm_complete = False
        self.curves: dict[str, list[RDPoint]] = {}
        self.matches: dict[tuple[str, int], RDPoint] = {}
        self.failures: dict[str, str] = {}  # classical codec key -> why it failed on this image
        self.model_curves: dict[str, list[RDPoint]] = {}  # other LSTM models' curves, by model id

    @property
    def height(self) -> int:
        return self.original.shape[0]

    @property
    def width(self) -> int:
        return self.original.shape[1]

    def encode_lstm(self, iterations: int, should_stop: Callable[[], bool] | None = None,
                    preview: Callable[[int, np.ndarray], None] | None = None,
                    draft: Callable[[int, np.ndarray], None] | None = None
                    ) -> Iterator[tuple[RDPoint, bytes, np.ndarray]]:
        """Encode from scratch, storing nothing: yields each iteration's point, its bytes in
        the file and its code bits (int8), for add_iteration. `preview(k, image)` is called
        with each reconstruction before its metrics are computed, so a viewer can show it a
        little sooner; `draft(k, image)` with the encoder network's own reconstruction while
        a refining encoder searches iteration k."""
        for point, r in encode_lstm(self.codec, self.original, self.name, iterations, should_stop, preview=preview,
                                    draft=draft):
            yield point, r.segment, r.codes.astype(np.int8)

    def reset_lstm(self):
        """Forget the LSTM's iterations (a new encode starts)."""
        self.lstm, self._segments, self._codes, self.lstm_complete = [], [], [], False
        self._block_costs = {}

    def add_iteration(self, point: RDPoint, segment: bytes, codes: np.ndarray):
        self.lstm.append(point)
        self._segments.append(segment)
        self._codes.append(codes)

    def end_lstm(self, iterations: int) -> bool:
        """The encode stopped: complete if it reached `iterations`; otherwise what it had is
        dropped, so a later encode starts clean. Returns whether it is complete."""
        self.lstm_complete = len(self.lstm) == iterations
        if not self.lstm_complete:
            self.reset_lstm()
        return self.lstm_complete

    def run_lstm(self, iterations: int | None = None, should_stop: Callable[[], bool] | None = None,
                 preview: Callable[[int, np.ndarray], None] | None = None) -> Iterator[RDPoint]:
        """Encode from scratch here, storing and yielding each iteration as it is ready."""
        self.reset_lstm()
        k = iterations or self.codec.cfg.iterations
        for point, block, codes in self.encode_lstm(k, should_stop, preview):
            self.add_iteration(point, block, codes)
            yield point
            if should_stop and should_stop():
                break
        self.end_lstm(k)

    def model_points(self, codec: LSTMCodec, should_stop: Callable[[], bool] | None = None) -> list[RDPoint] | None:
        """Another LSTM model's per-iteration RD points on this image (the paper's Figure 5
        for this image: every model's curve side by side), storing nothing; None if stopped
        early. The caller keeps them in model_curves under the model's id."""
        pts = [p for p, _ in encode_lstm(codec, self.original, self.name, codec.cfg.iterations, should_stop)]
        return pts if len(pts) == codec.cfg.iterations else None

    def samples(self) -> list[RDPoint]:
        """Every measured sample of this image: LSTM iterations, classical curves and
        matches, other models' curves."""
        return [*self.lstm, *(p for c in self.curves.values() for p in c), *self.matches.values(),
                *(p for c in self.model_curves.values() for p in c)]

    def lstm_bytes(self, iteration: int) -> int | None:
        """Real size of a file of the first `iteration` iterations: known once that
        iteration is encoded, or beforehand when the bits are not entropy-coded."""
        if iteration <= len(self.lstm):
            return self.lstm[iteration - 1].num_bytes
        if not self.codec.entropy:
            return self.codec.header(self.height, self.width, iteration).file_bytes(iteration)
        return None

    def lstm_bpp(self, iteration: int) -> float | None:
        n = self.lstm_bytes(iteration)
        return None if n is None else bpp(n, self.height, self.width)

    def lstm_bpp_bound(self, iteration: int) -> float:
        """At most this many bpp (the size without entropy coding): for axes and labels
        before the iteration is encoded."""
        return self.codec.header(self.height, self.width, iteration).bpp(iteration)

    def cached_block_costs(self, iteration: int) -> tuple[np.ndarray, np.ndarray] | None:
        return self._block_costs.get(iteration)

    def coding_mode(self, iteration: int) -> str:
        """How LSTM iteration `iteration` (1-based, encoded) is stored, in words."""
        from codec.lstm.entropy import MODE_LABELS
        header = self.codec.header(self.height, self.width, iteration)
        chunk = bitstream.segment_chunk(header, self._segments[iteration - 1])
        return "plain bits" if chunk is None else MODE_LABELS.get(chunk[0], "unknown mode")

    def block_cost_inputs(self, iteration: int) -> tuple:
        """What measure_blocks needs for LSTM iteration `iteration` (1-based): its entropy-coded
        chunk, its codes, the previous iteration's, the reconstructions before and after it
        (iteration 1 starts from the decoder's mid-grey), the model's context model and the
        iteration's index. IndexError if it is not encoded."""
        if not 1 <= iteration <= len(self.lstm):
            raise IndexError(f"LSTM iteration {iteration} is not encoded")
        before = (self.lstm[iteration - 2].reconstruction if iteration > 1
                  else np.full_like(self.original, 128))
        header = self.codec.header(self.height, self.width, iteration)
        return (bitstream.segment_chunk(header, self._segments[iteration - 1]), self._codes[iteration - 1],
                self._codes[iteration - 2] if iteration > 1 else None,
                before, self.lstm[iteration - 1].reconstruction, self.codec.model.context, iteration - 1)

    def set_block_costs(self, iteration: int, costs: tuple[np.ndarray, np.ndarray]):
        self._block_costs[iteration] = costs

    def block_costs(self, iteration: int) -> tuple[np.ndarray, np.ndarray]:
        """Where the bits of LSTM iteration `iteration` went (measure_blocks), computed here
        unless cached."""
        hit = self._block_costs.get(iteration)
        if hit is None:
            hit = measure_blocks(self.original, *self.block_cost_inputs(iteration))
            self.set_block_costs(iteration, hit)
        return hit

    def lstm_file(self, iterations: int | None = None) -> bytes:
        """The .lstm file of the first `iterations` iterations (all by default)."""
        k = iterations or len(self._segments)
        return bitstream.assemble(self.codec.header(self.height, self.width, k), self._segments[:k])

    def classical_curve(self, key: str, should_stop: Callable[[], bool] | None = None) -> list[RDPoint]:
        """The codec's RD curve on this image. A codec that fails (CodecError) has the reason
        kept in `failures`, and raises it."""
        with self._failures_kept(key):
            return self._classical_curve(key, should_stop)

    @contextmanager
    def _failures_kept(self, key: str):
        try:
            yield
        except CodecError as e:
            self.failures[key] = str(e)
            raise

    def classical_points(self, key: str, should_stop: Callable[[], bool] | None = None, up_to: float | None = None,
                         start: int = 0) -> list[RDPoint] | None:
        """The codec's RD curve on this image from its `start`th setting on, computed through the
        runner, storing nothing; None if stopped early. `up_to`: stop after the first point above
        that many bpp (the settings rise in rate; the points beyond are the priciest encodes and lie
        off the plot). Raises CodecError if the codec fails on this image."""
        calls = [(key, self.original, s) for s in get_codec(key).curve_settings[start:]]
        # all at once, or with up_to as many at a time as run side by side
        step = max(1, len(calls)) if up_to is None else getattr(self.runner, "CHILDREN", 1)
        out = []
        for i in range(0, len(calls), step):
            chunk = calls[i:i + step]
            pts = self._run_all(classical_sample, chunk, should_stop)
            if len(pts) < len(chunk):
                return None
            out += pts
            if up_to is not None and any(p.bpp > up_to for p in pts):
                break
        return out

    def _run_all(self, fn, calls, should_stop: Callable[[], bool] | None = None) -> list:
        """[fn(*args) for args in calls] through the runner, spread over its processes where it
        has several (its `map`), stopping early with the results so far."""
        mapper = getattr(self.runner, "map", None)
        return (mapper(fn, calls, should_stop) if mapper is not None
                else run_each(self.runner, fn, calls, should_stop))

    def quality_of(self, reconstructions: list[np.ndarray], metric_ids,
                   should_stop: Callable[[], bool] | None = None) -> list[dict[str, float]]:
        """`metric_ids` of each reconstruction of this image (SSIMULACRA2: about 0.3 s each at
        Kodak's size), through the runner: spread over its processes where it has several (a slow
        metric's many samples), stopping early with the values so far."""
        ids = tuple(metric_ids)
        out = self._run_all(measured_if_known, [(self.original, r, ids) for r in reconstructions], should_stop)
        # a metric the other process does not know (registered at run time, here only): here
        return [v if v is not None else registry.measure(self.original, r, ids) for v, r in zip(out, reconstructions)]

    def plotted_bpp(self) -> float:
        """The rates the RD plot shows, 0 to this: the LSTM's size bound at the model's
        iterations and a tenth more, at least 2.2 bpp."""
        return max(2.2, self.lstm_bpp_bound(self.codec.cfg.iterations) * 1.1)

    def curve_is_whole(self, key: str) -> bool:
        """Whether the codec's curve holds every one of its settings (the app computes the
        points beyond the plot last)."""
        return len(self.curves.get(key, ())) == len(get_codec(key).curve_settings)

    def _classical_curve(self, key: str, should_stop: Callable[[], bool] | None = None) -> list[RDPoint]:
        if key not in self.curves:
            pts = self.classical_points(key, should_stop)
            if pts is None:
                return []
            self.curves[key] = pts
        return self.curves[key]

    def matched_point(self, key: str, target_bpp: float) -> RDPoint:
        """The classical codec at `target_bpp`, computed through the runner, storing nothing;
        the bisection starts from the codec's curve where it is in."""
        known = {p.setting: p.bpp for p in self.curves.get(key, ())}
        return self.runner(matched_sample, key, self.original, target_bpp, known)

    def match(self, key: str, iteration: int) -> RDPoint:
        """The classical codec at the bpp of LSTM iteration `iteration` (not above it when it
        can), computed here unless cached. A codec that fails keeps its reason in `failures`."""
        with self._failures_kept(key):
            hit = self.matches.get((key, iteration))
            if hit is None:
                target = self.lstm_bpp(iteration)
                if target is None:
                    raise NotEncodedYet(f"LSTM iteration {iteration} is not encoded yet; its size is the match's target")
                hit = self.matches[(key, iteration)] = self.matched_point(key, target)
            return hit

    def curve(self, key: str) -> dict:
        """This image's RD curve of one codec ("lstm" or a classical key), in CompressAI's
        `results` shape."""
        return curve_of(self.lstm if key == "lstm" else self.curves.get(key, []))

    def bd_rate(self, key: str, scale: str = DEFAULT_SCALE) -> float | None:
        """BD-rate (%) of the LSTM against a classical codec on this image (negative: the
        LSTM needs fewer bits); None until both curves are complete (and measured on `scale`'s
        metric), NaN if they do not overlap."""
        if not self.lstm_complete or key not in self.curves:
            return None
        return image_bd_rate(self.curves[key], self.lstm, scale)

    def rd_results(self) -> list[dict]:
        """This image's RD data, one CompressAI-shaped dict per codec (codec/rd/results.py)."""
        out = []
        for key in ["lstm", *self.curves]:
            curve = self.curve(key)
            if not curve["bpp"]:
                continue
            name = f"LSTM {self.codec.model.model_id}" if key == "lstm" else get_codec(key).label
            desc = self.codec.model.describe() if key == "lstm" else get_codec(key).library()
            out.append(compressai_json(name, f"{desc}; image {self.name}", curve))
        return out
