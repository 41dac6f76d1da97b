"""What the window shows, in one place, without Qt: the opened images and the current one,
the iteration, the classical codec, the view, the plotted metric, the LSTM codec and its
encoder options.

The window draws from this state and writes the user's choices into it; the scheduler
(gui/scheduler.py) reads it to know what to compute first; tests drive it directly. Each
setter emits its event only when the value changes, on the thread that called it (the
GUI thread: worker results reach the state through the scheduler, never directly).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from codec.base.errors import CodecError
from codec.classical import CODECS
from codec.lstm.encoders import DEFAULT_ENCODER, ENCODERS
from codec.imaging.region import Region
from codec.lstm.options import DEVICES, PRECISION_CHOICES, LSTMOptions
from codec.lstm.zoo import SHIPPED
from codec.quality import registry

if TYPE_CHECKING:  # torch's modules: imported when a model is used, not to parse a command line
    from codec.lstm.checkpoint import LoadedModel
    from codec.lstm.coder import LSTMCodec
    from codec.rd.session import ImageSession

MODES = ("side", "split", "diff", "bits")
MODE_LABELS = {"side": "Side by side", "split": "Split", "diff": "Difference", "bits": "Where the bits go"}
OPTIONS = ("entropy", "all_models")  # the LSTM's on/off options, saved by these names


class Event:
    """A list of callbacks: connect(fn), emit(*args)."""

    def __init__(self):
        self._slots = []

    def connect(self, slot):
        self._slots.append(slot)

    def emit(self, *args):
        for slot in list(self._slots):
            slot(*args)


@dataclass(eq=False)
class Entry:
    """One opened image. `session` is None until it is loaded (and again while a moved
    region loads); `error` says why it could not be."""
    path: Path
    session: ImageSession | None = None
    error: str = ""
    centre: tuple[int, int] | None = None  # (y, x) in the photo: where the user moved the region
    thumbnail: np.ndarray | None = None  # small RGB pixels for the list

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def region(self) -> Region | None:
        """The part of a large photo compared (None: all of it, or not loaded yet)."""
        return self.session.region if self.session is not None else None


class ViewState:
    def __init__(self, model: LoadedModel | None = None, classical: list[str] | None = None):
        self.classical_codecs = list(classical or ["jpeg"])  # the keys usable here
        self.entries: list[Entry] = []
        self.current: Entry | None = None
        self.model = model
        self.entropy, self.all_models = True, False
        self.encoder = DEFAULT_ENCODER  # which bits to send (codec.lstm.encoders.ENCODERS)
        self.device = "auto"            # where the network runs (codec.lstm.options.DEVICES)
        self.precision = LSTMOptions().precision  # its arithmetic (codec.lstm.options.PRECISION_CHOICES)
        self.iteration = 2
        self.classical = self.classical_codecs[0]
        self.mode = "side"
        self.metric = registry.DEFAULT  # the plot's quality axis: a scale id of codec/quality/registry.py
        self.gain, self.signed = 4, False
        # checkpoints loaded in this session besides the shipped models: id -> (name, path)
        self.checkpoints: dict[str, tuple[str, str]] = {}
        self.codec = self.make_codec(model) if model is not None else None
        self._note_checkpoint(model)

        self.entries_changed = Event()    # () an image opened or closed
        self.entry_changed = Event()      # (entry) loaded, failed, or its session replaced
        self.current_changed = Event()    # (entry or None)
        self.iteration_changed = Event()  # (k)
        self.classical_changed = Event()  # (key)
        self.mode_changed = Event()       # (mode)
        self.metric_changed = Event()     # (metric)
        self.diff_changed = Event()       # () gain or signed
        self.codec_changed = Event()      # () another model or encoder option: sessions replaced
        self.option_changed = Event()     # (name, on)

    # ---------------------------------------------------------------- the LSTM codec
    @property
    def iterations(self) -> int:
        return self.model.config.iterations if self.model is not None else 16

    def options(self, encoder: str | None = None) -> LSTMOptions:
        """The LSTM's options as the Model menu has them (with another encoder, if given)."""
        return LSTMOptions.with_encoder(encoder or self.encoder, entropy=self.entropy, device=self.device,
                                        precision=self.precision)

    def make_codec(self, model: LoadedModel, encoder: str | None = None) -> LSTMCodec:
        from codec.lstm.coder import LSTMCodec
        return LSTMCodec.from_options(self.options(encoder), model)

    def _note_checkpoint(self, model):
        if model is not None and model.model_id not in {m.model_id for m in SHIPPED}:
            self.checkpoints[model.model_id] = (model.name or Path(model.path).stem, str(model.path))

    def set_model(self, model: LoadedModel):
        """Use this model: the open images get new sessions (their classical curves stay)."""
        self._note_checkpoint(model)
        self.model = model
        self._use_codec()

    def set_option(self, name: str, on: bool):
        """entropy / all_models on or off; entropy re-encodes the open images."""
        if name not in OPTIONS:
            raise ValueError(f"unknown option {name!r}")
        if getattr(self, name) == on:
            return
        setattr(self, name, on)
        if name != "all_models" and self.model is not None:
            self._use_codec()
        self.option_changed.emit(name, on)

    def set_encoder(self, name: str):
        """Which bits the LSTM sends (codec.lstm.encoders.ENCODERS): the open images are re-encoded."""
        self._set_codec_option("encoder", name, ENCODERS)

    def set_device(self, name: str):
        """Where the network runs (codec/lstm/device.py): the open images are re-encoded there."""
        self._set_codec_option("device", name, DEVICES)

    def set_precision(self, name: str):
        """The network's arithmetic (codec/lstm/options.py): the open images are re-encoded in it."""
        self._set_codec_option("precision", name, PRECISION_CHOICES)

    def _set_codec_option(self, option: str, value: str, allowed):
        """One of the LSTM's options that names a choice: a new codec, and the open images re-encoded."""
        if value not in allowed:
            raise ValueError(f"the {option} is one of {', '.join(allowed)}, not {value!r}")
        old = getattr(self, option)
        if value != old:
            setattr(self, option, value)
            if self.model is not None:
                try:
                    self._use_codec()
                except CodecError:  # this machine cannot run it (e.g. int8 on a GPU): nothing changes
                    setattr(self, option, old)
                    raise
            self.option_changed.emit(option, value)

    def _use_codec(self):
        from codec.rd.session import ImageSession
        self.codec = self.make_codec(self.model)
        for e in self.entries:
            if e.session is not None:
                old = e.session
                e.session = ImageSession(old.original, old.name, self.codec, old.notes, runner=old.runner,
                                         region=old.region)
                e.session.curves = old.curves
        self.iteration = min(self.iteration, self.iterations)
        self.codec_changed.emit()

    def others_options(self) -> LSTMOptions:
        """The options of the models drawn besides the one in use: the same, unless the encoder
        is the thorough search (minutes per model and image), then the default encoder."""
        return self.options(DEFAULT_ENCODER if self.encoder == "thorough" else self.encoder)

    def plot_models(self) -> list[tuple[str, str, str]]:
        """(model id, name, checkpoint path) of every model whose curve is drawn besides the
        model in use (Figure 5): the shipped ones and the checkpoints loaded in this session."""
        if not self.all_models:
            return []
        mine = self.model.model_id if self.model else None
        models = {m.model_id: (m.name, str(m.path)) for m in SHIPPED}
        models.update(self.checkpoints)
        return [(mid, name, path) for mid, (name, path) in models.items() if mid != mine]

    # ---------------------------------------------------------------- images
    def add(self, paths: list[Path]) -> tuple[list[Entry], Entry | None]:
        """Open these files (those not open yet). Returns the new entries and the entry of
        the first path (new or already open)."""
        known = {e.path.resolve(): e for e in self.entries}
        new = []
        for p in paths:
            if p.resolve() not in known:
                e = Entry(p)
                known[p.resolve()] = e
                self.entries.append(e)
                new.append(e)
        if new:
            self.entries_changed.emit()
        return new, (known[paths[0].resolve()] if paths else None)

    def remove(self, entries: list[Entry]):
        """Close these images; the current one moves to a neighbour."""
        row = self.entries.index(self.current) if self.current in self.entries else -1
        gone = [e for e in entries if e in self.entries]
        if not gone:
            return
        for e in gone:
            self.entries.remove(e)
            e.session = None
        self.entries_changed.emit()
        if self.current in gone:
            self.set_current(self.entries[min(row, len(self.entries) - 1)] if self.entries else None)

    def set_current(self, entry: Entry | None):
        if entry is not self.current:
            self.current = entry
            self.current_changed.emit(entry)

    def updated(self, entry: Entry):
        """An entry's session or error changed (the scheduler loaded it, or it was reset)."""
        self.entry_changed.emit(entry)

    # ---------------------------------------------------------------- what is shown
    def set_iteration(self, k: int):
        k = max(1, min(int(k), self.iterations))
        if k != self.iteration:
            self.iteration = k
            self.iteration_changed.emit(k)

    def set_classical(self, key: str):
        self._choose("classical", key, self.classical_codecs, "classical codec available here", self.classical_changed)

    def set_mode(self, mode: str):
        self._choose("mode", mode, MODES, "view", self.mode_changed)

    def set_metric(self, metric: str):
        self._choose("metric", metric, registry.scales(), "plot's metric", self.metric_changed)

    def _choose(self, name: str, value: str, allowed, what: str, event: Event):
        """Set one of the state's choices to `value`, one of `allowed`; `event` on change."""
        if value not in allowed:
            raise ValueError(f"the {what} is one of {', '.join(allowed)}, not {value!r}")
        if value != getattr(self, name):
            setattr(self, name, value)
            event.emit(value)

    def set_diff(self, gain: int | None = None, signed: bool | None = None):
        gain = self.gain if gain is None else max(1, min(int(gain), 64))
        signed = self.signed if signed is None else bool(signed)
        if (gain, signed) != (self.gain, self.signed):
            self.gain, self.signed = gain, signed
            self.diff_changed.emit()

    # ---------------------------------------------------------------- saved settings
    def load(self, settings):
        """Read the saved choices (QSettings or anything with value(key, default, type=))."""
        for name in OPTIONS:
            setattr(self, name, settings.value(name, getattr(self, name), type=bool))
        encoder = settings.value("encoder", self.encoder)
        self.encoder = encoder if encoder in ENCODERS else DEFAULT_ENCODER
        device = settings.value("device", self.device)
        self.device = device if device in DEVICES else "auto"
        precision = settings.value("precision", self.precision)
        self.precision = precision if precision in PRECISION_CHOICES else LSTMOptions().precision
        if self.model is not None:
            try:
                self.codec = self.make_codec(self.model)
            except CodecError:  # saved on a machine that could (a GPU, bfloat16): the defaults here
                self.device, self.precision = "auto", LSTMOptions().precision
                self.codec = self.make_codec(self.model)
        codec = settings.value("classical", settings.value("codec", self.classical))  # "codec": its older name
        self.classical = codec if codec in self.classical_codecs else self.classical_codecs[0]
        self.iteration = max(1, min(int(settings.value("iteration", 2)), self.iterations))
        mode = settings.value("mode", "side")
        self.mode = mode if mode in MODES else "side"
        metric = settings.value("metric", registry.DEFAULT)
        self.metric = metric if metric in registry.scales() else registry.DEFAULT
        self.gain = max(1, min(int(settings.value("gain", 4)), 64))
        self.signed = settings.value("signed", False, type=bool)

    def save(self, settings):
        for name in OPTIONS:
            settings.setValue(name, getattr(self, name))
        for key, value in (("encoder", self.encoder), ("device", self.device), ("precision", self.precision),
                           ("classical", self.classical),
                           ("iteration", self.iteration),
                           ("mode", self.mode),
                           ("metric", self.metric), ("gain", self.gain), ("signed", self.signed)):
            settings.setValue(key, value)

    def codec_label(self) -> str:
        return CODECS[self.classical].label
