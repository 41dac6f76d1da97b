"""The app's background work: what to compute, in which order, on which thread.

The scheduler owns the two worker threads (gui/worker.py), the tickets that stop stale
work, and the priorities. It watches the view state (gui/state.py) and asks for what the
user looks at first: the current image's LSTM encode, then the classical match at the
slider's iteration, the curves of the codec on screen, the other matches, the other
codecs' curves.

Jobs compute from values captured when they were queued (the pixels, the codec, the
LSTM's size at an iteration) and send their results back by value; the scheduler stores
them into the image's session on the GUI thread and then announces them with its signals.
A session is written on the GUI thread only, and the bookkeeping of what is queued lives
here, touched on the GUI thread only.
"""
from __future__ import annotations

import gc
import threading
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Signal

from codec.lstm.checkpoint import load_model
from codec.classical import CODECS
from codec.lstm.coder import LSTMCodec
from codec.base.errors import CodecError
from codec.lstm.lstm_file import load_picture
from codec.lstm.options import LSTMOptions
from codec.imaging.region import region_for
from codec.base.runtime import release_free_memory
from codec.quality import registry
from codec.rd.session import ImageSession, measure_blocks
from codec.rd.verdict import VERDICT_SCALES

from .state import Entry, ViewState
from .worker import CLASSICAL_RUNNER, Ticket, Workers

THUMB = 64  # the image list's thumbnails, pixels on their long side


def thumbnail(pixels: np.ndarray) -> np.ndarray:
    h, w = pixels.shape[:2]
    step = max(1, int(max(h, w) / THUMB))
    return np.ascontiguousarray(pixels[::step, ::step])


# The headline's SSIMULACRA2 waits behind every classical curve (priorities 1 and 5 + their
# rank): what the window shows first comes first.
VERDICT_PRIORITY = 15
# The classical curves' points beyond the plot's edge (what a user sees only when zooming out):
# after everything the window shows.
CURVE_REST_PRIORITY = 30


@dataclass(eq=False)
class Visit:
    """The classical work queued for an image while it is the current one; leaving it
    cancels the lot (results so far stay cached)."""
    ticket: Ticket = field(default_factory=Ticket)
    matches: set = field(default_factory=set)  # (codec, k) queued
    curves: set = field(default_factory=set)   # codec keys queued
    metrics: set = field(default_factory=set)  # on-request metric ids being measured
    blocks: set = field(default_factory=set)   # iterations whose block costs are queued


class OtherCodecs:
    """The codecs of the models drawn besides the one in use (Figure 5), each model loaded
    once. Used from the LSTM thread and the GUI thread (data set window), hence the lock."""

    def __init__(self):
        self._lock = threading.Lock()
        self._codecs: dict[tuple[str, LSTMOptions], LSTMCodec] = {}

    def get(self, model_id: str, path: str, options: LSTMOptions) -> LSTMCodec:
        with self._lock:
            key = (model_id, options)
            if key not in self._codecs:
                self._codecs[key] = LSTMCodec.from_options(options, load_model(path))
            return self._codecs[key]


# Imported lazily by what they serve, but on every first opening: bjontegaard (with matplotlib
# and scipy, 0.6 s) by the BD-rate readout, which runs on the GUI thread.
IMPORTED_AHEAD = ("bjontegaard",)


def settle_start_up() -> None:
    """Import IMPORTED_AHEAD, then move all that start-up made (torch, Qt, the model, those
    imports: about 400,000 objects, nearly all for the app's lifetime) out of the cyclic
    garbage collector's reach: a full collection over them takes 0.1-0.2 s, a slider drag's
    six to twelve frames."""
    import importlib
    for name in IMPORTED_AHEAD:
        importlib.import_module(name)
    gc.freeze()


class Scheduler(QObject):
    # results, on the GUI thread, once stored in their session
    encoding_changed = Signal(object)           # the session being encoded (None: none)
    lstm_preview = Signal(object, int, object, bool)  # session, iteration, reconstruction, a draft (refinement to follow)
    lstm_iteration = Signal(object, object)     # session, RDPoint
    lstm_done = Signal(object, bool)            # session, complete
    curve_ready = Signal(object, str)           # session, codec key / "lstm:<model id>" / "metric:<id>"
    match_ready = Signal(object, str, int)      # session, codec, iteration
    blocks_ready = Signal(object, int)          # session, iteration (its block costs stored)
    failed = Signal(str, str)                   # what, message

    # from the worker threads (queued to the GUI thread: this object lives there)
    _got_load = Signal(object, object, str)                 # entry, (pixels, notes, region, thumbnail) or None, error
    _got_preview = Signal(object, object, int, object, bool)  # ticket, session, k, image, a draft
    _got_iteration = Signal(object, object, object)         # ticket, session, (point, block, codes)
    _got_lstm_end = Signal(object, object)                  # ticket, session
    _got_curve = Signal(object, object, str, object, str, int)  # visit, session, key, points or None, error, from setting
    _got_match = Signal(object, object, str, int, float, object, str)  # visit, session, key, k, target, point, error
    _got_blocks = Signal(object, object, int, object, object)  # visit, session, k, its point, costs
    _got_metric = Signal(object, object, str, object, object)  # visit, session, metric id, points, values
    _got_model = Signal(object, object, str, object)        # visit, session, model id, points

    def __init__(self, state: ViewState, parent=None):
        super().__init__(parent)
        self.state = state
        self.workers = Workers(self)
        self.workers.failed.connect(self._worker_failed)
        self.others = OtherCodecs()
        self.encoding: ImageSession | None = None   # the session the LSTM thread encodes
        self._lstm_ticket: Ticket | None = None
        self.previewed: ImageSession | None = None  # the encode whose first iteration is shown
        self._visit = Visit()                        # the current image's
        for signal, slot in ((self._got_load, self._store_load), (self._got_preview, self._store_preview),
                             (self._got_iteration, self._store_iteration), (self._got_lstm_end, self._store_lstm_end),
                             (self._got_curve, self._store_curve), (self._got_match, self._store_match),
                             (self._got_blocks, self._store_blocks), (self._got_metric, self._store_metric),
                             (self._got_model, self._store_model)):
            signal.connect(slot)
        state.current_changed.connect(self._current_changed)
        state.entry_changed.connect(lambda e: self.visit() if e is state.current else None)
        state.iteration_changed.connect(self._iteration_changed)
        state.classical_changed.connect(lambda _: self._iteration_changed(state.iteration, prefetch=True))
        state.classical_changed.connect(lambda _: self._queue_slow_metric())
        state.mode_changed.connect(lambda _: self._iteration_changed(state.iteration))
        state.metric_changed.connect(lambda _: self._queue_slow_metric())
        state.option_changed.connect(lambda name, on: self._queue_model_curves() if name == "all_models" else None)
        state.codec_changed.connect(self._codec_changed)

    # ================================================================ lifetime
    def warm_up(self):
        """Start the classical codecs' child processes now, e.g. while the user picks a file,
        and import what the first opening would import on its way (`settle_start_up`)."""
        self.workers.submit("classic", lambda _: CLASSICAL_RUNNER.warm_up(), priority=-1,
                            what="starting the classical codecs' processes")
        self.workers.submit("lstm", lambda _: settle_start_up(), priority=-1, what="importing what an opening needs")

    def busy(self) -> bool:
        return self.workers.busy()

    def stop(self):
        self.cancel_encode()
        self._visit.ticket.cancel()
        self.workers.stop()

    def _worker_failed(self, what: str, message: str):
        self.failed.emit(what, message)

    # ================================================================ opening
    def load(self, entry: Entry):
        """Read the image (a large photo: only its region) on the classical thread."""
        model = self.state.codec.model

        def run(t):
            try:
                img = load_picture(entry.path, model, crop=lambda h, w: region_for(h, w, entry.centre))
            except CodecError as err:
                self._got_load.emit(entry, None, str(err))
                return
            r = img.region
            if r is not None:
                release_free_memory()  # the whole photo's decoding buffers: hundreds of MB
            notes = [r.describe(), *img.notes] if r is not None else img.notes
            thumb = thumbnail(img.preview if img.preview is not None else img.pixels)
            self._got_load.emit(entry, (img.pixels, notes, r, thumb), "")

        self.workers.submit("classic", run, priority=0, what=f"opening {entry.name}")

    def _store_load(self, entry: Entry, loaded, error: str):
        if entry not in self.state.entries:
            return  # closed meanwhile
        if loaded is None:
            entry.error = error
        else:
            pixels, notes, region, thumb = loaded
            entry.session = ImageSession(pixels, entry.name, self.state.codec, notes, runner=CLASSICAL_RUNNER,
                                         region=region)
            entry.thumbnail = thumb
        self.state.updated(entry)

    def reload(self, entry: Entry):
        """Load an image again (its region moved): its work stops, its results go."""
        if entry is self.state.current:
            self._leave()
        if self.encoding is not None and self.encoding is entry.session:
            self.cancel_encode(quiet=True)
        entry.session = None
        self.state.updated(entry)
        self.load(entry)

    # ================================================================ what the user looks at
    def _current_changed(self, entry):
        self._leave()
        if self.encoding is not None and (entry is None or entry.session is not self.encoding):
            self.cancel_encode(quiet=True)  # stale work for another image stops between iterations
        self.visit()

    def _leave(self):
        self._visit.ticket.cancel()
        self._visit = Visit()

    def _codec_changed(self):
        self.cancel_encode(quiet=True)
        self._leave()
        self.others = OtherCodecs()
        self.visit()

    def visit(self):
        """Ask for everything the current image shows, most urgent first."""
        e = self.state.current
        s = e.session if e is not None else None
        if s is None:
            return
        if not s.lstm_complete and self.encoding is not s:
            self.encode(s)
        self._start_classical()

    def _iteration_changed(self, k: int, prefetch: bool = False):
        e = self.state.current
        if e is None or e.session is None:
            return
        self._queue_match(e.session, self.state.classical, k, priority=0)
        if prefetch:
            self._prefetch_matches()
        if self.state.mode == "bits":
            self._queue_blocks(e.session, k)

    def _waiting_first(self, s: ImageSession) -> bool:
        """While the LSTM computes its first iteration, classical work waits: on 2 cores it
        would delay the first reconstruction (the thing a user waits for)."""
        return s is self.encoding and not s.lstm and self.previewed is not s

    def _start_classical(self):
        """Queue the current image's classical work (once its first LSTM iteration is shown)."""
        e = self.state.current
        s = e.session if e is not None else None
        if s is None or self._waiting_first(s):
            return
        self._queue_curves(s)
        self._iteration_changed(self.state.iteration, prefetch=True)
        self._queue_slow_metric()
        if s.lstm_complete:
            self._queue_model_curves()

    # ================================================================ the LSTM encode
    def encode(self, s: ImageSession):
        """Encode the image (again) from scratch on the LSTM thread."""
        self.cancel_encode(quiet=True)
        ticket = self._lstm_ticket = Ticket()
        self.encoding = s
        s.reset_lstm()
        total = self.state.iterations

        def run(t: Ticket):
            def preview(k, image):
                self._got_preview.emit(t, s, k, image, False)

            def draft(k, image):
                self._got_preview.emit(t, s, k, image, True)

            for item in s.encode_lstm(total, should_stop=lambda: t.cancelled, preview=preview, draft=draft):
                self._got_iteration.emit(t, s, item)
            self._got_lstm_end.emit(t, s)

        self.workers.submit("lstm", run, ticket, priority=0, what=f"encoding {s.name}")
        self.encoding_changed.emit(s)

    def cancel_encode(self, quiet: bool = False) -> bool:
        """Stop the encode running (its iterations so far are dropped). Returns whether one
        was running."""
        s = self.encoding
        if s is None:
            return False
        self._lstm_ticket.cancel()
        self._lstm_ticket, self.encoding = None, None
        s.end_lstm(self.state.iterations)
        self.encoding_changed.emit(None)
        if not quiet:
            self._start_classical()
        return True

    def _store_preview(self, t: Ticket, s: ImageSession, k: int, image, draft: bool):
        if t is self._lstm_ticket and k == 1 and not s.lstm:
            self.previewed = s
            self.lstm_preview.emit(s, k, image, draft)
            self._start_classical()

    def _store_iteration(self, t: Ticket, s: ImageSession, item):
        if t is not self._lstm_ticket:
            return  # cancelled, or another encode of it started
        s.add_iteration(*item)
        self.lstm_iteration.emit(s, item[0])
        if self._is_current(s):
            self._iteration_changed(self.state.iteration, prefetch=True)  # this size is known: its match can go

    def _store_lstm_end(self, t: Ticket, s: ImageSession):
        if t is not self._lstm_ticket:
            return
        self._lstm_ticket, self.encoding = None, None
        complete = s.end_lstm(self.state.iterations)
        self.encoding_changed.emit(None)
        self.lstm_done.emit(s, complete)
        if self._is_current(s):
            self._start_classical()

    def _is_current(self, s: ImageSession) -> bool:
        e = self.state.current
        return e is not None and e.session is s

    # ================================================================ classical work
    def _queue_curves(self, s: ImageSession):
        visit, first = self._visit, self.state.classical
        order = [first] + [c for c in self.state.classical_codecs if c != first]
        for i, key in enumerate(order):
            if key in visit.curves or key in s.failures:
                continue
            if key not in s.curves:
                # the codec on screen first; the others after its bpp matches; each up to the
                # plot's edge (the points beyond are the priciest and off the plot: last)
                self._submit_curve(visit, s, key, 1 if i == 0 else 5 + i, up_to=s.plotted_bpp())
            elif not s.curve_is_whole(key):
                self._submit_curve(visit, s, key, CURVE_REST_PRIORITY + i, start=len(s.curves[key]))

    def _submit_curve(self, visit: Visit, s: ImageSession, key: str, priority: float, up_to: float | None = None,
                      start: int = 0):
        visit.curves.add(key)

        def run(t):
            try:
                pts, error = s.classical_points(key, lambda: t.cancelled, up_to, start), ""
            except CodecError as err:
                pts, error = None, str(err)
            self._got_curve.emit(visit, s, key, pts, error, start)

        what = f"{CODECS[key].label} curve" + (" beyond the plot" if start else "")
        self.workers.submit("classic", run, visit.ticket, priority=priority, what=what)

    def _store_curve(self, visit: Visit, s: ImageSession, key: str, pts, error: str, start: int):
        visit.curves.discard(key)
        if error:
            s.failures[key] = error
        elif pts is not None and len(s.curves.get(key, ())) == start:
            s.curves.setdefault(key, []).extend(pts)  # in place: a re-encoded session shares the list
        else:
            return  # stopped
        self.curve_ready.emit(s, key)
        if self._is_current(s):
            self._queue_slow_metric()
            if not s.curve_is_whole(key) and key not in s.failures:
                self._queue_curves(s)

    def _queue_match(self, s: ImageSession, codec: str, k: int, priority: float):
        visit, target = self._visit, s.lstm_bpp(k)
        if self._waiting_first(s) or target is None or codec in s.failures:
            return  # the first iteration comes first; its target (the LSTM's size) not known; the codec failed here
        if (codec, k) in s.matches or (codec, k) in visit.matches:
            return
        visit.matches.add((codec, k))

        def run(t):
            try:
                point, error = s.matched_point(codec, target), ""
            except CodecError as err:
                point, error = None, str(err)
            self._got_match.emit(visit, s, codec, k, target, point, error)

        self.workers.submit("classic", run, visit.ticket, priority=priority, what=f"matching {CODECS[codec].label}")

    def _store_match(self, visit: Visit, s: ImageSession, codec: str, k: int, target: float, point, error: str):
        visit.matches.discard((codec, k))
        if error:
            s.failures[codec] = error
        elif s.lstm_bpp(k) == target:
            s.matches[(codec, k)] = point
        else:
            return  # re-encoded since: asked again when iteration k is back
        self.match_ready.emit(s, codec, k)

    def _prefetch_matches(self):
        e = self.state.current
        if e is None or e.session is None:
            return
        for k in range(1, self.state.iterations + 1):
            self._queue_match(e.session, self.state.classical, k, priority=2 + 0.01 * abs(k - self.state.iteration))

    # ================================================================ on request
    def _queue_blocks(self, s: ImageSession, k: int):
        """Where iteration k's bits went, for the bits view (the entropy model's code lengths
        take a moment on large images)."""
        visit = self._visit
        if k > len(s.lstm) or s.cached_block_costs(k) is not None or k in visit.blocks:
            return
        visit.blocks.add(k)
        inputs, point = s.block_cost_inputs(k), s.lstm[k - 1]

        def run(t):
            self._got_blocks.emit(visit, s, k, point, measure_blocks(s.original, *inputs))

        self.workers.submit("classic", run, visit.ticket, priority=-1, what=f"measuring iteration {k}'s blocks")

    def _store_blocks(self, visit: Visit, s: ImageSession, k: int, point, costs):
        visit.blocks.discard(k)
        if k <= len(s.lstm) and s.lstm[k - 1] is point:  # not re-encoded since
            s.set_block_costs(k, costs)
            self.blocks_ready.emit(s, k)

    def _queue_slow_metric(self):
        """Slow metrics (codec/quality/registry.py: SSIMULACRA2, 0.3 s a sample at Kodak's
        size, or a plugin's) are measured in the background: the plotted one on every sample of
        the image, again as new samples arrive; and the verdict's (codec/rd/verdict.py) on the
        LSTM's curve and the shown codec's, once both are in, after everything else."""
        e, visit = self.state.current, self._visit
        s = e.session if e is not None else None
        if s is None:
            return
        plotted = registry.scale(self.state.metric).metric
        wanted = [(plotted, s.samples(), 3)] if plotted.slow else []
        if s.lstm_complete and self.state.classical in s.curves:
            verdict = [*s.lstm, *s.curves[self.state.classical]]
            slow = {registry.scale(v).metric for v in VERDICT_SCALES} - {plotted}
            wanted += [(m, verdict, VERDICT_PRIORITY) for m in slow if m.slow]
        for metric, samples, priority in wanted:
            todo = [p for p in samples if p.missing([metric.id])]
            if not todo or metric.id in visit.metrics:
                continue
            visit.metrics.add(metric.id)
            self._submit_metric(visit, s, metric, todo, priority)

    def _submit_metric(self, visit: Visit, s: ImageSession, metric, todo: list, priority: float):
        recs = [p.reconstruction for p in todo]

        def run(t):
            values = s.quality_of(recs, [metric.id], should_stop=lambda: t.cancelled)
            self._got_metric.emit(visit, s, metric.id, todo, values)

        self.workers.submit("classic", run, visit.ticket, priority=priority, what=f"measuring {metric.label}")

    def _store_metric(self, visit: Visit, s: ImageSession, metric_id: str, points, values):
        visit.metrics.discard(metric_id)
        for p, v in zip(points, values):
            p.quality.update(v)
        self.curve_ready.emit(s, "metric:" + metric_id)
        if visit is self._visit and len(values) == len(points):
            self._queue_slow_metric()  # samples that arrived meanwhile

    def _queue_model_curves(self):
        """Encode the current image with every other model drawn (Figure 5), on the LSTM
        thread after the model in use."""
        e, visit = self.state.current, self._visit
        s = e.session if e is not None else None
        if s is None or not s.lstm_complete:
            return
        options = self.state.others_options()
        for mid, name, path in self.state.plot_models():
            if mid in s.model_curves or ("lstm:" + mid) in visit.curves:
                continue
            visit.curves.add("lstm:" + mid)

            def run(t, mid=mid, path=path):
                pts = s.model_points(self.others.get(mid, path, options), should_stop=lambda: t.cancelled)
                if pts is not None:
                    self._got_model.emit(visit, s, mid, pts)

            self.workers.submit("lstm", run, visit.ticket, priority=10, what=f"encoding with the {name} model")

    def _store_model(self, visit: Visit, s: ImageSession, mid: str, pts):
        visit.curves.discard("lstm:" + mid)
        s.model_curves[mid] = pts
        self.curve_ready.emit(s, "lstm:" + mid)
