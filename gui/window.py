"""The main window: image list, comparison views, iteration slider, RD plot, exports."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QObject, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QIcon, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QMainWindow, QMessageBox, QProgressBar,
                               QPushButton, QSlider, QSpinBox, QSplitter, QToolButton, QVBoxLayout, QWidget)

from codec.classical import CODECS, available_codecs
from codec.checkpoint import LoadedModel, load_model
from codec.coder import LSTMCodec
from codec.data import find_images
from codec.errors import CodecError
from codec.imageio import IMAGE_SUFFIXES
from codec.lstm_file import LSTM_SUFFIX, load_picture
from codec.refine import RefineSettings
from codec.plugins import problems as plugin_problems
from codec.region import Region, region_for
from codec.runtime import release_free_memory
from codec.session import ImageSession, NotEncodedYet
from codec.zoo import MODELS_DIR, SHIPPED

from .actions import WindowActions
from .rdplot import METRICS, RDPlot
from .views import MODE_LABELS, MODES, ComparisonViews
from .worker import CLASSICAL_RUNNER, Ticket, Workers

THUMB = 64


@dataclass
class Entry:
    path: Path
    item: QListWidgetItem
    session: ImageSession | None = None
    error: str = ""
    centre: tuple[int, int] | None = None  # (y, x) in the photo: where the user moved the region
    pending: set = field(default_factory=set)  # (codec, k) matches queued
    curves_queued: set = field(default_factory=set)
    metric_queued: bool = False  # SSIMULACRA2 being measured for its samples
    classic: Ticket = field(default_factory=Ticket)  # this visit's classical jobs

    def leave(self):
        """Drop this image's queued classical work (results so far stay cached)."""
        self.classic.cancel()
        self.classic = Ticket()
        self.pending.clear()
        self.curves_queued.clear()
        self.metric_queued = False

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def region(self) -> Region | None:
        """The part of a large photo compared (None: all of it, or not loaded yet)."""
        return self.session.region if self.session is not None else None


class Bridge(QObject):
    """Signals the worker threads emit; delivered on the GUI thread."""
    loaded = Signal(object, object, object)     # entry, session, thumbnail (QImage)
    load_failed = Signal(object, str)           # entry, message
    lstm_iteration = Signal(object, object)     # session, RDPoint
    lstm_preview = Signal(object, int, object)  # session, iteration, reconstruction (metrics to follow)
    lstm_done = Signal(object, bool)            # session, complete
    curve_ready = Signal(object, str)           # session, codec
    match_ready = Signal(object, str, int)      # session, codec, iteration
    blocks_ready = Signal(object, int)          # session, iteration (its block costs are cached)
    metric_done = Signal(object)                # session (SSIMULACRA2 measured for what it had)


def thumbnail(pixels: np.ndarray) -> QImage:
    h, w = pixels.shape[:2]
    step = max(1, int(max(h, w) / THUMB))
    small = np.ascontiguousarray(pixels[::step, ::step])
    img = QImage(small.data, small.shape[1], small.shape[0], small.strides[0], QImage.Format_RGB888)
    return img.copy()


def caption(sample) -> str:
    return (f"{sample.label} · {sample.num_bytes:,} B · {sample.bpp:.3f} bpp · "
            f"PSNR {sample.psnr:.2f} dB · MS-SSIM {sample.ms_ssim:.4f}")


class MainWindow(WindowActions, QMainWindow):
    def __init__(self, model: LoadedModel | None = None, settings: QSettings | None = None):
        super().__init__()
        # Qt deletes the window once closed: the signal connections to its own methods are
        # reference cycles through C++ that Python's collector cannot break
        self.setAttribute(Qt.WA_DeleteOnClose)
        self.settings = settings or QSettings("lstm-compare", "lstm-compare")
        self.model = model
        self.entropy = self.settings.value("entropy", True, type=bool)  # entropy-code the LSTM's bits
        self.refine = self.settings.value("refine", False, type=bool)  # encoder-side bit refinement
        self.all_models = self.settings.value("all_models", False, type=bool)  # every model's curve (Figure 5)
        self._other_codecs: dict[str, LSTMCodec] = {}  # the other models' codecs for those curves, by id
        self._checkpoints: dict[str, tuple[str, str]] = {}  # checkpoints loaded: id -> (name, path)
        if model is not None and model.model_id not in {m.model_id for m in SHIPPED}:
            self._checkpoints[model.model_id] = (model.name or Path(model.path).stem, str(model.path))
        self.codec = self._make_codec(model) if model else None
        self.entries: list[Entry] = []
        self.current: Entry | None = None
        self.lstm_ticket: Ticket | None = None
        self.lstm_session: ImageSession | None = None
        self._previewed: ImageSession | None = None  # the encode whose first iteration is shown
        self.workers = Workers(self)
        self.workers.failed.connect(self._worker_failed)
        self.bridge = Bridge()
        self.bridge.loaded.connect(self._loaded)
        self.bridge.load_failed.connect(self._load_failed)
        self.bridge.lstm_iteration.connect(self._lstm_iteration)
        self.bridge.lstm_preview.connect(self._lstm_preview)
        self.bridge.lstm_done.connect(self._lstm_done)
        self.bridge.curve_ready.connect(self._curve_ready)
        self.bridge.match_ready.connect(self._match_ready)
        self.bridge.blocks_ready.connect(self._blocks_ready)
        self.bridge.metric_done.connect(self._metric_done)
        self.codecs = available_codecs()
        self._build()
        self._restore()
        self.plot.set_model_names(self._model_names(), self._lstm_name())
        self.setAcceptDrops(True)
        QGuiApplication.instance().installEventFilter(self)
        self._update_title()
        if plugin_problems():
            self.status("Some codec plugins were left out: " + "; ".join(plugin_problems()), error=True)

    # ================================================================ layout
    def _build(self):
        self.setWindowTitle("lstm-compare")
        self.views = ComparisonViews()
        self.views.hovered.connect(self._hovered)
        self.views.double_clicked.connect(self._move_region)
        self.plot = RDPlot()
        self.plot.iterationClicked.connect(lambda k: self.slider.setValue(k))
        self.plot.setMinimumHeight(220)

        # image list
        self.list = QListWidget()
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setMinimumWidth(170)
        self.list.setMaximumWidth(260)
        self.list.currentRowChanged.connect(self._row_changed)
        self.list.setToolTip("Opened images: click to switch (Up/Down). Drop files or folders here.")

        # controls
        iters = self.model.config.iterations if self.model else 16
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(1, iters)
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TicksBelow)
        self.slider.setTickInterval(1)
        self.slider.setToolTip("LSTM iterations = bitrate (0.125 bpp each). Left/Right arrows move it.")
        self.slider.valueChanged.connect(self._iteration_changed)
        # After a move in the difference view, the neighbours' error maps are computed in
        # the next idle moment, so the following step is a cache look-up.
        self._warm_timer = QTimer(self, singleShot=True, interval=30)
        self._warm_timer.timeout.connect(self._warm_neighbours)
        self.iter_label = QLabel()
        self.iter_label.setMinimumWidth(330)
        f = self.iter_label.font()
        f.setBold(True)
        self.iter_label.setFont(f)

        self.codec_box = QComboBox()
        for key in self.codecs:
            self.codec_box.addItem(CODECS[key].label, key)
        self.codec_box.setToolTip("Classical codec shown against the LSTM, at the same bpp")
        self.codec_box.currentIndexChanged.connect(self._codec_changed)

        self.mode_group = QButtonGroup(self)
        mode_row = QHBoxLayout()
        mode_row.setSpacing(0)
        for i, mode in enumerate(MODES):
            b = QToolButton()
            b.setText(MODE_LABELS[mode])
            b.setCheckable(True)
            b.setToolTip(f"{MODE_LABELS[mode]} view (Ctrl+{i + 1})")
            self.mode_group.addButton(b, i)
            mode_row.addWidget(b)
        self.mode_group.idClicked.connect(lambda i: self.set_mode(MODES[i]))

        self.gain = QSpinBox()
        self.gain.setRange(1, 64)
        self.gain.setPrefix("gain ×")
        self.gain.setValue(4)
        self.gain.setToolTip("Difference view: amplify errors (full colour scale = 255 / gain levels)")
        self.gain.valueChanged.connect(lambda g: self.views.set_diff_options(gain=float(g)))
        self.signed = QCheckBox("signed")
        self.signed.setToolTip("Difference view: signed error (blue darker, red brighter than the original)")
        self.signed.toggled.connect(self._signed_toggled)

        self.metric_box = QComboBox()
        for k, v in METRICS.items():
            self.metric_box.addItem(v, k)
        self.metric_box.setToolTip("Quality axis of the RD plot")
        self.metric_box.currentIndexChanged.connect(self._metric_changed)

        fit = QPushButton("Fit")
        fit.setToolTip("Fit the image in the view (F)")
        fit.clicked.connect(self.views.fit)
        one = QPushButton("1:1")
        one.setToolTip("One image pixel per screen pixel (1)")
        one.clicked.connect(self.views.one_to_one)

        row1 = QHBoxLayout()
        row1.addWidget(QLabel("Iterations"))
        row1.addWidget(self.slider, 1)
        row1.addWidget(self.iter_label)
        row2 = QHBoxLayout()
        row2.addWidget(QLabel("vs"))
        row2.addWidget(self.codec_box)
        row2.addSpacing(12)
        row2.addLayout(mode_row)
        row2.addSpacing(12)
        row2.addWidget(self.gain)
        row2.addWidget(self.signed)
        row2.addSpacing(12)
        row2.addWidget(fit)
        row2.addWidget(one)
        row2.addStretch(1)
        row2.addWidget(QLabel("plot"))
        row2.addWidget(self.metric_box)
        controls = QWidget()
        cl = QVBoxLayout(controls)
        cl.setContentsMargins(6, 4, 6, 4)
        cl.addLayout(row1)
        cl.addLayout(row2)

        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(controls)
        bl.addWidget(self.plot, 1)
        self.vsplit = QSplitter(Qt.Vertical)
        self.vsplit.addWidget(self.views)
        self.vsplit.addWidget(bottom)
        self.vsplit.setStretchFactor(0, 3)
        self.vsplit.setStretchFactor(1, 2)

        self.hsplit = QSplitter(Qt.Horizontal)
        self.hsplit.addWidget(self.list)
        self.hsplit.addWidget(self.vsplit)
        self.hsplit.setStretchFactor(0, 0)
        self.hsplit.setStretchFactor(1, 1)
        self.setCentralWidget(self.hsplit)

        # status bar: messages, pixel readout, progress, cancel
        self.readout = QLabel()
        self.readout.setToolTip("Pixel under the cursor: coordinates and RGB of each image")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setFormat("%v/%m iterations")
        self.progress.hide()
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stop encoding this image (Esc)")
        self.cancel_btn.clicked.connect(self.cancel)
        self.cancel_btn.hide()
        sb = self.statusBar()
        sb.addPermanentWidget(self.readout)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_btn)

        self._menus()

    def _menus(self):
        mb = self.menuBar()

        def act(menu, text, slot, shortcut=None, tip=""):
            a = QAction(text, self)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            if tip:
                a.setStatusTip(tip)
            a.triggered.connect(slot)
            menu.addAction(a)
            return a

        fm = mb.addMenu("&File")
        act(fm, "&Open images…", self.open_dialog, QKeySequence.Open, "Open one or more images")
        act(fm, "Open &folder…", self.open_folder_dialog, "Ctrl+Shift+O", "Open every image in a folder")
        act(fm, "Open folder as a &data set…", self.open_dataset_dialog, "Ctrl+D",
            "Mean RD curves, BD-rates and a table per image for every image in a folder")
        fm.addSeparator()
        act(fm, "&Export comparison…", self.export_comparison_dialog, "Ctrl+E",
            "Save the views, their labels and the plot as one PNG")
        act(fm, "&Copy comparison", self.copy_comparison, "Ctrl+Shift+C", "Copy the comparison image to the clipboard")
        act(fm, "Export &plot…", self.export_plot_dialog, None, "Save the RD plot as PNG or SVG")
        act(fm, "Export RD &data…", self.export_rd_dialog, None, "Save this image's RD points as JSON or CSV")
        act(fm, "&Save .lstm and reconstructions…", self.save_files_dialog, QKeySequence.Save,
            "Save the .lstm file, both reconstructions and the classical codec's file")
        fm.addSeparator()
        act(fm, "Re-&encode", self.reencode, "F5", "Encode the current image again")
        act(fm, "&Close image", self.close_image, QKeySequence.Close, "Remove the current image from the list")
        act(fm, "Close &all images", self.close_all_images, "Ctrl+Shift+W", "Remove every image from the list")
        fm.addSeparator()
        act(fm, "&Quit", self.close, QKeySequence.Quit)

        mm = mb.addMenu("&Model")
        self.model_actions = QActionGroup(self)  # the shipped models, one checked: the one in use
        for m in SHIPPED:
            a = QAction(m.label, self, checkable=True, statusTip=m.title, data=str(m.path))
            self.model_actions.addAction(a)
            mm.addAction(a)
        # One connection for the group: the triggered action carries its model's path.
        self.model_actions.triggered.connect(lambda a: self.use_model(a.data()))
        mm.addSeparator()
        act(mm, "Load &checkpoint…", self.load_model_dialog, None, "Use another trained checkpoint (.pt)")
        mm.addSeparator()
        self.entropy_action = self._switch(
            mm, "&Entropy-code the LSTM bits", self.entropy, self.set_entropy,
            "Lossless range coding of the code bits: 9-17% fewer bytes on Kodak. "
            "Off: the paper's plain bits, 0.125 bpp per iteration.")
        self.refine_action = self._switch(
            mm, "&Refine the LSTM bits (slow encoder)", self.refine, self.set_refine,
            "Search for better bits while encoding (codec/refine.py): higher MS-SSIM at the same rate, "
            "about 70x slower to encode; files decode as usual.")
        mm.addSeparator()
        self.all_models_action = self._switch(
            mm, "Plot &every model's curve (Figure 5)", self.all_models, self.set_all_models,
            "Encode each image with every shipped model too (in the background) and draw their curves; "
            "click a legend entry to hide or show a curve.")
        self._check_model_action()

        vm = mb.addMenu("&View")
        for i, mode in enumerate(MODES):
            act(vm, MODE_LABELS[mode], lambda _=False, m=mode: self.set_mode(m), f"Ctrl+{i + 1}")
        vm.addSeparator()
        act(vm, "&Fit", self.views.fit, "F")
        act(vm, "&1:1 pixels", self.views.one_to_one, "1")
        act(vm, "Zoom &in", lambda: self.views.zoom(1.25), QKeySequence.ZoomIn)
        act(vm, "Zoom &out", lambda: self.views.zoom(0.8), QKeySequence.ZoomOut)
        vm.addSeparator()
        act(vm, "Split divider &left", lambda: self.views.set_split_position(0.1), "[")
        act(vm, "Split divider &centre", lambda: self.views.set_split_position(0.5), "\\")
        act(vm, "Split divider &right", lambda: self.views.set_split_position(0.9), "]")

        hm = mb.addMenu("&Help")
        act(hm, "&Keyboard shortcuts", self.show_shortcuts, "F1")
        act(hm, "&About lstm-compare", self.show_about)

        for key, step in (("Left", -1), ("Right", 1), ("PgDown", -1), ("PgUp", 1)):
            QShortcut(QKeySequence(key), self, lambda s=step: self.slider.setValue(self.slider.value() + s))
        QShortcut(QKeySequence("Home"), self, lambda: self.slider.setValue(1))
        QShortcut(QKeySequence("End"), self, lambda: self.slider.setValue(self.slider.maximum()))
        QShortcut(QKeySequence("Escape"), self, self.cancel)

    def _switch(self, menu, text: str, on: bool, slot, tip: str) -> QAction:
        """A checkable menu entry for one of the window's on/off options."""
        action = QAction(text, self, checkable=True, checked=on, statusTip=tip)
        action.toggled.connect(slot)
        menu.addAction(action)
        return action

    # ================================================================ settings
    def _restore(self):
        s = self.settings
        geo = s.value("geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1500, 860)
        for name, splitter, sizes in (("hsplit", self.hsplit, [190, 1310]), ("vsplit", self.vsplit, [520, 330])):
            state = s.value(name)
            if state is not None:
                splitter.restoreState(state)
            else:
                splitter.setSizes(sizes)
        codec = s.value("codec", "jpeg")
        i = self.codec_box.findData(codec)
        self.codec_box.setCurrentIndex(max(0, i))
        self.slider.setValue(int(s.value("iteration", 2)))
        mode = s.value("mode", "side")
        self.set_mode(mode if mode in MODES else "side")
        m = self.metric_box.findData(s.value("metric", "ms-ssim"))
        self.metric_box.setCurrentIndex(max(0, m))
        self.gain.setValue(int(s.value("gain", 4)))
        self._iteration_changed(self.slider.value())

    def _save_settings(self):
        s = self.settings
        s.setValue("geometry", self.saveGeometry())
        s.setValue("hsplit", self.hsplit.saveState())
        s.setValue("vsplit", self.vsplit.saveState())
        s.setValue("codec", self.current_codec())
        s.setValue("iteration", self.slider.value())
        s.setValue("mode", self.views.mode)
        s.setValue("metric", self.metric_box.currentData())
        s.setValue("gain", self.gain.value())
        s.sync()

    def closeEvent(self, event):
        self._save_settings()
        self.cancel()
        self.workers.stop()
        QGuiApplication.instance().removeEventFilter(self)
        super().closeEvent(event)

    # ================================================================ opening
    def current_codec(self) -> str:
        return self.codec_box.currentData() or "jpeg"

    def last_dir(self) -> str:
        return str(self.settings.value("last_dir", str(Path.home())))

    def open_dialog(self):
        filt = ("Images (" + " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES)) + f");;LSTM files (*{LSTM_SUFFIX})"
                ";;All files (*)")
        paths, _ = QFileDialog.getOpenFileNames(self, "Open images", self.last_dir(), filt)
        if paths:
            self.open_paths(paths)

    def open_folder_dialog(self):
        d = QFileDialog.getExistingDirectory(self, "Open a folder of images", self.last_dir())
        if d:
            self.open_paths([d])

    def open_dataset_dialog(self):
        d = QFileDialog.getExistingDirectory(self, "Open a folder as a data set", self.last_dir())
        if d:
            self.open_dataset([d])

    def open_dataset(self, paths):
        """The data set window for these images and folders (gui/dataset.py)."""
        from .dataset import DatasetWindow
        if self.codec is None:
            self.status("No model is loaded; use the Model menu to pick one first.", error=True)
            return None
        files = []
        for p in map(Path, paths):
            files += find_images(p) if p.is_dir() else [p]
        if not files:
            self.status("No image files there.", error=True)
            return None
        # Figure 5 over the data set too (the fast encoder, as on the plot)
        others = {name: self._other_codec(mid, path) for mid, name, path in self._plot_models()}
        w = DatasetWindow(files, self.codec, [k for k in self.codecs if k != "jpeg444"], others,
                          with_ssimulacra2=self.metric_box.currentData() == "ssimulacra2", parent=self)
        w.open_image.connect(lambda path: self.open_paths([path]))
        w.show()
        return w

    def open_paths(self, paths) -> list[Entry]:
        """Open files and folders (folders: every image in them). Returns the new entries."""
        if self.codec is None:
            self.status("No model is loaded; use the Model menu to pick one first.", error=True)
            return []
        files, skipped = [], []
        for p in map(Path, paths):
            if p.is_dir():
                found = find_images(p)
                others = [q for q in p.iterdir() if q.is_file() and q.suffix.lower() not in IMAGE_SUFFIXES]
                skipped += [q.name for q in others]
                if not found:
                    self.status(f"{p} holds no image files.", error=True)
                files += found
            else:
                files.append(p)
        if skipped:
            self.status(f"Skipped {len(skipped)} file(s) that are not images: {', '.join(skipped[:5])}"
                        f"{'…' if len(skipped) > 5 else ''}", error=True)
        new = []
        known = {e.path.resolve(): e for e in self.entries}
        for p in files:
            if p.resolve() in known:
                continue
            item = QListWidgetItem(p.name)
            item.setToolTip(str(p))
            e = Entry(p, item)
            self.entries.append(e)
            self.list.addItem(item)
            new.append(e)
            self.workers.submit("classic", lambda t, e=e: self._load_job(e), priority=0, what=f"opening {p.name}")
        if files:
            self.settings.setValue("last_dir", str(files[0].parent))
        first = new[0] if new else (known.get(files[0].resolve()) if files else None)
        if first is not None:
            self.list.setCurrentRow(self.entries.index(first))
        return new

    def close_image(self):
        if self.current is not None:
            self.close_entries([self.current])

    def close_all_images(self):
        self.close_entries(list(self.entries))

    def close_entries(self, entries: list[Entry]):
        """Remove images from the list: their work stops and their pictures and results are
        freed (the classical results stay in the disk cache)."""
        for e in entries:
            if e not in self.entries:
                continue
            e.leave()  # an encode of it stops when the list moves away from it (_row_changed)
            row = self.entries.index(e)
            self.entries.pop(row)
            self.list.takeItem(row)  # the list moves to a neighbour: _row_changed follows
            e.session = None
        if not self.entries:
            self._row_changed(-1)
            self.progress.hide()
            self.cancel_btn.hide()
        self._update_title()

    def _load_job(self, e: Entry):
        try:  # a large photo: only its region is kept (codec/region.py)
            img = load_picture(e.path, self.codec.model, crop=lambda h, w: region_for(h, w, e.centre))
        except CodecError as err:
            self.bridge.load_failed.emit(e, str(err))
            return
        r = img.region
        if r is not None:
            release_free_memory()  # the whole photo's decoding buffers: hundreds of MB
        notes = [r.describe(), *img.notes] if r is not None else img.notes
        session = ImageSession(img.pixels, e.name, self.codec, notes, runner=CLASSICAL_RUNNER, region=r)
        thumb = thumbnail(img.preview if img.preview is not None else img.pixels)
        self.bridge.loaded.emit(e, session, thumb)

    def _loaded(self, e: Entry, session: ImageSession, thumb: QImage):
        if e not in self.entries:
            return
        e.session = session
        e.item.setIcon(QIcon(QPixmap.fromImage(thumb)))
        r = session.region
        e.item.setText(f"{e.name}\n{r.full_width}x{r.full_height}" if r else f"{e.name}\n{session.width}x{session.height}")
        if e is self.current:
            self._show_entry()
            if session.notes:  # e.g. what a salvaged .lstm file lost
                self.status(f"{e.name}: {'; '.join(session.notes)}")

    def _load_failed(self, e: Entry, message: str):
        e.error = message
        e.item.setText(f"{e.name}\n(unreadable)")
        e.item.setForeground(Qt.red)
        e.item.setToolTip(message)
        self.status(message, error=True)
        if e is self.current:
            self._show_entry()

    def _row_changed(self, row: int):
        new = self.entries[row] if 0 <= row < len(self.entries) else None
        if self.current is not None and new is not self.current:
            self.current.leave()
        self.current = new
        if self.lstm_ticket and (self.current is None or self.current.session is not self.lstm_session):
            self.lstm_ticket.cancel()  # stale work for another image stops between iterations
            self.lstm_ticket = None
            self.lstm_session = None
        self._show_entry()

    # ================================================================ work
    def _show_entry(self):
        e = self.current
        self._update_title()
        if e is None:
            self.views.set_original(None)
            self.plot.show_session(None, [])
            return
        if e.error:  # say why where the image would be, and in the status bar
            self.views.set_original(None)
            self.views.set_original_caption(f"{e.name} · unreadable")
            self.views.set_messages("nothing to compress", "nothing to compress", original=e.error)
            self.plot.show_session(None, [])
            self.status(e.error, error=True)
            return
        s = e.session
        if s is None:
            self.views.set_original(None)
            self.views.set_original_caption("loading…")
            self.views.set_messages()
            return
        self.views.set_original(s.original)
        note = f" · {'; '.join(s.notes)}" if s.notes else ""
        self.views.set_original_caption(f"{s.name} · {s.width}x{s.height}{note}")
        self.plot.show_session(s, self.codecs)
        if not s.lstm_complete and self.lstm_session is not s:
            self._start_encode(s)
        self._queue_curves(e)
        self._queue_slow_metric(e)
        self._iteration_changed(self.slider.value())
        self._prefetch_matches()  # those whose LSTM size is known (encoded, or plain bits)

    def _start_encode(self, s: ImageSession):
        ticket = Ticket()
        self.lstm_ticket, self.lstm_session = ticket, s
        total = self.slider.maximum()
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_btn.show()

        def run(t: Ticket):
            def preview(k, image):
                self.bridge.lstm_preview.emit(s, k, image)

            for sample in s.run_lstm(total, should_stop=lambda: t.cancelled, preview=preview):
                self.bridge.lstm_iteration.emit(s, sample)
            self.bridge.lstm_done.emit(s, s.lstm_complete)

        self.workers.submit("lstm", run, ticket, priority=0, what=f"encoding {s.name}")

    def _waiting_first(self, e: Entry) -> bool:
        """While the LSTM computes its first iteration, classical work waits: on 2 cores it
        would delay the first reconstruction (the thing a user waits for)."""
        s = e.session
        return s is not None and s is self.lstm_session and not s.lstm and self._previewed is not s

    def _queue_curves(self, e: Entry):
        if self._waiting_first(e):
            return
        order = [self.current_codec()] + [c for c in self.codecs if c != self.current_codec()]
        for i, key in enumerate(order):
            if key in e.session.curves or key in e.curves_queued or key in e.session.failures:
                continue
            e.curves_queued.add(key)
            s = e.session

            def run(t, s=s, key=key):
                try:
                    s.classical_curve(key, should_stop=lambda: t.cancelled)
                except CodecError:
                    pass  # kept in s.failures: the plot's legend and the pane say why
                self.bridge.curve_ready.emit(s, key)

            # the codec on screen first; the others after its bpp matches (see _prefetch_matches)
            self.workers.submit("classic", run, e.classic, priority=1 if i == 0 else 5 + i,
                                what=f"{CODECS[key].label} curve")

    def _queue_match(self, e: Entry, codec: str, k: int, priority: int):
        s = e.session
        if self._waiting_first(e):
            return
        if (codec, k) in s.matches or (codec, k) in e.pending or s.lstm_bpp(k) is None or codec in s.failures:
            return  # done, queued, its target (the LSTM's size) not known yet, or the codec failed here
        e.pending.add((codec, k))

        def run(t):
            try:
                s.match(codec, k)
            except CodecError:
                pass  # kept in s.failures: the classical pane says why
            except NotEncodedYet:
                return  # re-encoded since it was queued: asked again when iteration k is back
            finally:
                e.pending.discard((codec, k))
            self.bridge.match_ready.emit(s, codec, k)

        self.workers.submit("classic", run, e.classic, priority=priority, what=f"matching {CODECS[codec].label}")

    def _prefetch_matches(self):
        e = self.current
        if e is None or e.session is None:
            return
        for k in range(1, self.slider.maximum() + 1):
            self._queue_match(e, self.current_codec(), k, priority=2 + 0.01 * abs(k - self.slider.value()))

    def cancel(self):
        if self.lstm_ticket is not None:
            self.lstm_ticket.cancel()
            self.status("Encoding cancelled; press F5 to encode again.")
        self.lstm_ticket = None
        self.lstm_session = None
        self.progress.hide()
        self.cancel_btn.hide()
        self._start_classical()

    def reencode(self):
        e = self.current
        if e is not None and e.session is not None:
            self.cancel()
            self._start_encode(e.session)
            self._iteration_changed(self.slider.value())

    # ================================================================ results
    def _lstm_iteration(self, s: ImageSession, sample):
        if self.current is None or s is not self.current.session:
            return
        self.progress.setValue(sample.iteration)
        self.views.prepare(sample.reconstruction)
        self.plot.refresh(self.slider.value(), self.current_codec())  # a new point on the LSTM curve
        if sample.iteration <= self.slider.value():
            self._iteration_changed(self.slider.value())  # queues the match on screen first
        self._prefetch_matches()  # this iteration's size is now known: its match can be queued

    def _lstm_preview(self, s: ImageSession, k: int, image):
        """The first reconstruction goes on screen before its metrics are computed."""
        if self.current is not None and s is self.current.session and not s.lstm and k == 1:
            self.views.set_lstm(image, "1 it. · computing metrics…")
            self.views.set_messages(f"computing iteration {self.slider.value()}…" if self.slider.value() > 1 else "",
                                    "")
            self._previewed = s
            self._start_classical()

    def _start_classical(self):
        """Queue the classical codecs' work for the current image (after the first preview)."""
        e = self.current
        if e is None or e.session is None:
            return
        self._queue_curves(e)
        self._queue_match(e, self.current_codec(), self.slider.value(), priority=0)
        self._prefetch_matches()

    def _metric_changed(self, i: int):
        self.plot.set_metric(self.metric_box.itemData(i))
        if self.current is not None and self.current.session is not None:
            self._queue_slow_metric(self.current)

    def _queue_slow_metric(self, e: Entry):
        """SSIMULACRA2 (0.3 s a sample at Kodak's size) is measured only while it is the
        plotted metric: the image's samples that lack it, on the classical thread, again as
        new samples arrive."""
        if self.metric_box.currentData() != "ssimulacra2" or e.metric_queued:
            return
        s = e.session
        if all(p.ssimulacra2 is not None for p in s.samples()):
            return
        e.metric_queued = True

        def run(t, s=s, e=e):
            try:
                missing = s.add_ssimulacra2(should_stop=lambda: t.cancelled)
            finally:
                e.metric_queued = False
            self.bridge.curve_ready.emit(s, "ssimulacra2")
            if missing == 0:
                self.bridge.metric_done.emit(s)

        self.workers.submit("classic", run, e.classic, priority=3, what="measuring SSIMULACRA2")
        self.status(f"Measuring SSIMULACRA2 for {s.name}'s samples (about 0.3 s each)…")

    def _metric_done(self, s: ImageSession):
        if self.current is not None and s is self.current.session:
            self._queue_slow_metric(self.current)  # samples that arrived meanwhile

    # ================================================================ Figure 5 live
    def set_all_models(self, on: bool):
        """Every shipped model's curve on the plot (besides the model in use), or not."""
        self.all_models_action.setChecked(on)
        self.all_models = on
        self.settings.setValue("all_models", on)
        self.plot.set_model_names(self._model_names(), self._lstm_name())
        if on and self.current is not None and self.current.session is not None:
            self._queue_model_curves(self.current)
        if self.current is not None:
            self.plot.refresh(self.slider.value(), self.current_codec())

    def _lstm_name(self) -> str:
        """The legend name of the model in use's curve: its name once other models are drawn."""
        return f"LSTM {self.model.name} (in use)" if self.all_models and self.model else "LSTM"

    def _plot_models(self) -> list[tuple[str, str, str]]:
        """(model id, name, checkpoint path) of every model whose curve is drawn besides the
        model in use: the shipped ones and any checkpoint loaded in this session."""
        if not self.all_models:
            return []
        mine = self.model.model_id if self.model else None
        models = {m.model_id: (m.name, str(m.path)) for m in SHIPPED}
        models.update(self._checkpoints)
        return [(mid, name, path) for mid, (name, path) in models.items() if mid != mine]

    def _model_names(self) -> dict[str, str]:
        """model id -> legend name of the curves to draw besides the model in use."""
        return {mid: f"LSTM {name}" for mid, name, _ in self._plot_models()}

    def _queue_model_curves(self, e: Entry):
        """Encode the image with every other shipped model, on the LSTM thread after the
        model in use (lower priority), for the plot."""
        s = e.session
        for mid, name, path in self._plot_models():
            if mid in s.model_curves:
                continue

            def run(t, s=s, mid=mid, path=path):
                s.model_curve(self._other_codec(mid, path), should_stop=lambda: t.cancelled)
                self.bridge.curve_ready.emit(s, "lstm:" + mid)

            self.workers.submit("lstm", run, e.classic, priority=10, what=f"encoding with the {name} model")

    def _other_codec(self, model_id: str, path: str) -> LSTMCodec:
        """The codec of a model drawn besides the one in use (loaded once), with the fast
        encoder: refining several models' bits would take many minutes."""
        codec = self._other_codecs.get(model_id)
        if codec is None:
            codec = self._other_codecs[model_id] = self._make_codec(load_model(path), refine=False)
        return codec

    def _lstm_done(self, s: ImageSession, complete: bool):
        if s is self.lstm_session:
            self.lstm_ticket = None
            self.lstm_session = None
            if self.current is not None and s is self.current.session:
                self._start_classical()  # in case the run ended before its first preview
            self.progress.hide()
            self.cancel_btn.hide()
        if self.current is not None and s is self.current.session:
            if complete:
                self.status(f"{s.name}: {len(s.lstm)} iterations encoded "
                            f"({s.lstm[-1].encode_seconds:.1f} s).")
                self.plot.refresh(self.slider.value(), self.current_codec())  # the BD-rate can be computed now
                if self.all_models:
                    self._queue_model_curves(self.current)
                self._queue_slow_metric(self.current)
            self._iteration_changed(self.slider.value())

    def _curve_ready(self, s: ImageSession, key: str):
        if self.current is not None and s is self.current.session:
            self.plot.refresh(self.slider.value(), self.current_codec())
            self._queue_slow_metric(self.current)
            if key in s.failures and key == self.current_codec():
                self._iteration_changed(self.slider.value())  # the pane says why

    def _match_ready(self, s: ImageSession, codec: str, k: int):
        if self.current is not None and s is self.current.session:
            if codec == self.current_codec() and (k == self.slider.value() or codec in s.failures):
                self._iteration_changed(k)
            elif (codec, k) in s.matches:
                self.views.prepare(s.matches[(codec, k)].reconstruction)

    def _iteration_changed(self, k: int):
        """Show iteration k from the cache (and ask for what is missing)."""
        e = self.current
        codec = self.current_codec()
        s = e.session if e is not None else None
        total = self.slider.maximum()
        if s is None:
            self.iter_label.setText(f"{k}/{total} iterations")
            self.views.set_lstm(None)
            self.views.set_classical(None)
            self.views.set_messages()
            return
        nbytes = s.lstm_bytes(k)
        self.iter_label.setText(f"{k}/{total} iterations · {s.lstm_bpp(k):.3f} bpp · {nbytes:,} bytes" if nbytes
                                else f"{k}/{total} iterations · ≤ {s.lstm_bpp_bound(k):.3f} bpp (encoding)")
        avail = len(s.lstm)
        lstm_msg = ""
        if avail:
            shown = s.lstm[min(k, avail) - 1]
            self.views.set_lstm(shown.reconstruction, caption(shown))
            if avail < k:
                lstm_msg = f"computing iteration {k}… (showing {avail})"
        else:
            self.views.set_lstm(None, "")
            lstm_msg = "encoding…" if self.lstm_session is s else "not encoded (F5)"
        m = s.matches.get((codec, k))
        cls_msg = ""
        if m is not None:
            self.views.set_classical(m.reconstruction, caption(m))
        else:
            self.views.set_classical(None, "")
            if codec in s.failures:
                cls_msg = s.failures[codec]
            elif s.lstm_bpp(k) is None:
                cls_msg = f"{CODECS[codec].label} follows when LSTM iteration {k} is encoded…"
            else:
                cls_msg = f"matching {CODECS[codec].label} to {s.lstm_bpp(k):.3f} bpp…"
                self._queue_match(e, codec, k, priority=0)
        self.views.set_messages(lstm_msg, cls_msg)
        lab = CODECS[codec].label
        self.views.set_split_caption(f"left: LSTM {shown.bpp:.3f} bpp · right: {lab} "
                                     f"{m.bpp:.3f} bpp" if avail and m else "")
        self.plot.set_current(k, codec)
        if self.views.mode == "diff":
            self._warm_timer.start()
        elif self.views.mode == "bits":
            self._show_blocks(e, k)

    def _show_blocks(self, e: Entry, k: int):
        """Where iteration k's bits went: from the session's cache, else computed on the
        classical thread (the entropy model's code lengths take a moment on large images)."""
        s = e.session
        if k > len(s.lstm):
            self.views.set_block_maps(None, f"iteration {k} is not encoded yet…")
            return
        if s.cached_block_costs(k) is not None:
            self.views.set_block_maps(s.cached_block_costs(k))
            return
        self.views.set_block_maps(None, f"measuring iteration {k}'s blocks…")

        def run(t, s=s, k=k):
            try:
                s.block_costs(k)
            except IndexError:
                return  # re-encoding meanwhile: asked again when the iteration is back
            self.bridge.blocks_ready.emit(s, k)

        self.workers.submit("classic", run, e.classic, priority=-1, what=f"measuring iteration {k}'s blocks")

    def _blocks_ready(self, s: ImageSession, k: int):
        if self.current is not None and s is self.current.session and k == self.slider.value() \
                and self.views.mode == "bits":
            self.views.set_block_maps(s.cached_block_costs(k))

    def _warm_neighbours(self):
        e = self.current
        s = e.session if e is not None else None
        if s is None or self.views.mode != "diff":
            return
        k, codec, recs = self.slider.value(), self.current_codec(), []
        for j in (k + 1, k - 1):
            if 1 <= j <= len(s.lstm):
                recs.append(s.lstm[j - 1].reconstruction)
            m = s.matches.get((codec, j))
            if m is not None:
                recs.append(m.reconstruction)
        self.views.warm(recs)

    def _codec_changed(self, _i: int):
        self.views.set_codec_label(CODECS[self.current_codec()].label)
        if self.current is not None and self.current.session is not None:
            self._iteration_changed(self.slider.value())
            self._prefetch_matches()

    def _signed_toggled(self, on: bool):
        self.views.set_diff_options(signed=on)
        self.views.set_codec_label(CODECS[self.current_codec()].label)
        self.views.p_dl.title.setText("LSTM − original" if on else "|LSTM − original|")

    def set_mode(self, mode: str):
        self.views.set_mode(mode)
        b = self.mode_group.button(MODES.index(mode))
        if b is not None:
            b.setChecked(True)
        diff = mode == "diff"
        self.gain.setEnabled(diff)
        self.signed.setEnabled(diff)
        if diff:
            self._warm_timer.start()
        if mode == "bits" and self.current is not None and self.current.session is not None:
            self._show_blocks(self.current, self.slider.value())

    def _move_region(self, x: int, y: int):
        """Double-click on a large photo: compare the region around that point instead."""
        e = self.current
        if e is None or e.region is None or e.session is None:
            return
        e.centre = (e.region.y + y, e.region.x + x)
        e.leave()
        e.session = None
        self._row_changed(self.entries.index(e))  # stops its encode, shows "loading…"
        self.workers.submit("classic", lambda t, e=e: self._load_job(e), priority=0, what=f"opening {e.name}")

    def _hovered(self, x: int, y: int):
        r = self.current.region if self.current is not None else None
        parts = [f"x {x}, y {y}" if r is None else f"x {r.x + x}, y {r.y + y} (in the photo)"]
        for name, img in (("original", self.views.original), ("LSTM", self.views.lstm),
                          (CODECS[self.current_codec()].label, self.views.classical)):
            if img is not None:
                r, g, b = img[y, x]
                parts.append(f"{name} ({r}, {g}, {b})")
        maps = self.views.block_maps
        if self.views.mode == "bits" and maps is not None:
            by, bx = y // 16, x // 16
            parts.append(f"block ({bx}, {by}): {maps[0][by, bx]:.1f} bits, MSE removed {maps[1][by, bx]:.2f}")
        self.readout.setText(" · ".join(parts))

    # ================================================================ events
    def eventFilter(self, obj, event):
        # Space held: flip the reconstructions to the original (A/B flicker)
        t = event.type()
        if t in (QEvent.KeyPress, QEvent.KeyRelease) and event.key() == Qt.Key_Space \
                and not event.isAutoRepeat() and self.isActiveWindow():
            self.views.set_flicker(t == QEvent.KeyPress)
            return True
        return super().eventFilter(obj, event)

    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.open_paths(paths)

    def _worker_failed(self, what: str, message: str):
        self.status(f"Error while {what}: {message}", error=True)
        if self.current is not None and self.current.session is not None:
            self._iteration_changed(self.slider.value())

    def status(self, text: str, error: bool = False):
        self.statusBar().setStyleSheet("color: #ff8080;" if error else "")
        self.statusBar().showMessage(text, 15000)

    def _update_title(self):
        name = self.current.name if self.current else ""
        model = f"{self.model.name}, model {self.model.model_id}" if self.model else "no model"
        if self.model and not self.entropy:
            model += ", plain bits"
        if self.model and self.refine:
            model += ", refined bits"
        self.setWindowTitle(f"{name + ' — ' if name else ''}lstm-compare ({model})")

    # ================================================================ exports
    def ready(self, k: int | None = None, curves: bool = False) -> bool:
        """Whether iteration k (default: the slider's) and its classical match are on screen
        (and, with curves, everything the plot and the view will show: every classical RD
        curve, the other models' curves and the slow metric when asked for, the block maps
        in the bits view)."""
        e = self.current
        k = k or self.slider.value()
        if not (e and e.session and len(e.session.lstm) >= k):
            return False
        m = e.session.matches.get((self.current_codec(), k))
        if m is None or (k == self.slider.value() and self.views.classical is not m.reconstruction):
            return False  # not computed, or its result not yet delivered to the views
        if not curves:
            return True
        s = e.session
        return (all(c in s.curves or c in s.failures for c in self.codecs)
                and all(mid in s.model_curves for mid in self._model_names())
                and (self.metric_box.currentData() != "ssimulacra2"
                     or all(p.ssimulacra2 is not None for p in s.samples()))
                and (self.views.mode != "bits" or self.views.block_maps is not None))

    # ================================================================ model
    def load_model_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self, "Load model", str(MODELS_DIR),
                                              "Checkpoints (*.pt);;All files (*)")
        if path:
            self.set_model_path(path)

    def use_model(self, path) -> bool:
        """Switch to the model in `path` unless it is the one in use (no needless re-encode)."""
        if self.model and Path(self.model.path).resolve() == Path(path).resolve():
            return True
        return self.set_model_path(path)

    def set_model_path(self, path) -> bool:
        try:
            model = load_model(path)
        except CodecError as err:
            QMessageBox.warning(self, "Model not loaded", str(err))
            self.status(f"Model not loaded: {err}", error=True)
            self._check_model_action()  # the menu keeps showing the model still in use
            return False
        if model.model_id not in {m.model_id for m in SHIPPED}:  # drawn with the others from now on
            self._checkpoints[model.model_id] = (model.name or Path(path).stem, str(path))
        self.model = model
        self._use_codec(self._make_codec(model))
        self._check_model_action()
        self.status(f"Loaded {model.describe()}")
        return True

    def set_entropy(self, on: bool):
        """Entropy-coded or plain LSTM bits: the same reconstructions at other sizes, so every
        open image is re-encoded and its matches redone; the classical curves stay."""
        self._set_encoder_option("entropy", self.entropy_action, on,
                                 "LSTM bits entropy-coded (lossless)." if on else
                                 "LSTM bits stored plain, as in the paper: 0.125 bpp per iteration.")

    def set_refine(self, on: bool):
        """Encoder-side refinement on or off: other bits, so the open images are re-encoded."""
        self._set_encoder_option("refine", self.refine_action, on,
                                 "Refining the LSTM bits while encoding: better images, about 70x slower "
                                 "encoding." if on else "LSTM bits as the encoder network predicts them (fast).")

    def _set_encoder_option(self, name: str, action: QAction, on: bool, message: str):
        """One of the LSTM encoder's switches (an attribute and a setting of that name): keep
        the menu in step, remember it, and re-encode the open images when it changes."""
        action.setChecked(on)
        if on == getattr(self, name):
            return
        setattr(self, name, on)
        self.settings.setValue(name, on)
        if self.model is not None:
            self._use_codec(self._make_codec(self.model))
        self.status(message)

    def _make_codec(self, model: LoadedModel, refine: bool | None = None) -> LSTMCodec:
        refine = self.refine if refine is None else refine
        return LSTMCodec(model, entropy=self.entropy, refine=RefineSettings() if refine else None)

    def _use_codec(self, codec: LSTMCodec):
        """Encode the open images again with this codec. Their classical curves do not depend
        on it and stay; the matches follow the LSTM's sizes and are redone."""
        self.cancel()
        self.codec = codec
        self._other_codecs.clear()  # the encoder options may have changed
        self.plot.set_model_names(self._model_names(), self._lstm_name())
        self.slider.setMaximum(codec.cfg.iterations)
        for e in self.entries:
            if e.session is not None:
                old = e.session
                e.leave()
                e.session = ImageSession(old.original, old.name, codec, old.notes, runner=CLASSICAL_RUNNER,
                                         region=old.region)
                e.session.curves = old.curves
        self._update_title()
        self._show_entry()

    def _check_model_action(self):
        current = Path(self.model.path).resolve() if self.model else None
        for a in self.model_actions.actions():
            a.setChecked(current is not None and Path(a.data()).resolve() == current)
