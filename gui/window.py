"""The main window: layout and wiring. What it shows lives in the view state
(gui/state.py), the work behind it in the scheduler (gui/scheduler.py), exports and
dialogs in gui/actions.py. Its handlers draw from the state and the sessions; they never
queue work."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QIcon, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QMainWindow, QProgressBar,
                               QPushButton, QSlider, QSpinBox, QSplitter, QToolButton, QVBoxLayout, QWidget)

from codec.base.errors import CodecError
from codec.classical import CODECS, available_codecs
from codec.lstm.checkpoint import LoadedModel
from codec.classical.plugins import problems as plugin_problems
from codec.quality import registry
from codec.rd.verdict import VERDICT_SCALES, trained_for
from codec.lstm.coder import runnable_precisions
from codec.lstm.device import available as available_devices
from codec.lstm.encoders import DEFAULT_ENCODER, ENCODER_LABELS
from codec.lstm.options import DEVICES, PRECISION_CHOICES
from codec.rd.session import ImageSession
from codec.lstm.zoo import SHIPPED, display_name

from .actions import WindowActions
from .rdplot import Curves, RDPlot
from .scheduler import THUMB, Scheduler
from .spawned import exit_if_spawned_child
from .state import MODE_LABELS, MODES, Entry, ViewState
from .views import ComparisonViews


def icon(pixels) -> QIcon:
    img = QImage(pixels.data, pixels.shape[1], pixels.shape[0], pixels.strides[0], QImage.Format_RGB888)
    return QIcon(QPixmap.fromImage(img.copy()))


def caption(sample) -> str:
    return (f"{sample.label} · {sample.num_bytes:,} B · {sample.bpp:.3f} bpp · "
            f"PSNR {sample.value('psnr-rgb'):.2f} dB · MS-SSIM {sample.value('ms-ssim-rgb'):.4f}")


class MainWindow(WindowActions, QMainWindow):
    def __init__(self, model: LoadedModel | None = None, settings: QSettings | None = None):
        exit_if_spawned_child()
        super().__init__()
        # Qt deletes the window once closed: the signal connections to its own methods are
        # reference cycles through C++ that Python's collector cannot break
        self.setAttribute(Qt.WA_DeleteOnClose)
        self.settings = settings or QSettings("lstm-compare", "lstm-compare")
        self.state = ViewState(model, available_codecs())
        self.state.load(self.settings)
        self.scheduler = Scheduler(self.state, self)
        self._items: dict[Entry, QListWidgetItem] = {}  # the image list's item of each entry
        self._build()
        self._restore_layout()
        self._wire()
        self._show_controls()
        self.plot.set_codecs(self.state.classical_codecs)
        self.plot.set_metric(self.state.metric)
        self.plot.set_model_names(self._model_names(), self._lstm_name())
        self.plot.set_trained_for(trained_for(self.model.meta) if self.model else "")
        self._show_entry()
        self.setAcceptDrops(True)
        QGuiApplication.instance().installEventFilter(self)
        if plugin_problems():
            self.status("Some codec plugins were left out: " + "; ".join(plugin_problems()), error=True)

    def _wire(self):
        st, sc = self.state, self.scheduler
        st.entries_changed.connect(self._fill_list)
        st.entry_changed.connect(self._entry_changed)
        st.current_changed.connect(lambda _: self._show_entry())
        st.iteration_changed.connect(lambda _: (self._show_slider(), self._show_iteration()))
        st.classical_changed.connect(self._classical_changed)
        st.mode_changed.connect(self._mode_changed)
        st.metric_changed.connect(self._metric_changed)
        st.diff_changed.connect(self._diff_changed)
        st.codec_changed.connect(self._codec_changed)
        st.option_changed.connect(self._option_changed)
        sc.failed.connect(self._worker_failed)
        sc.encoding_changed.connect(self._encoding_changed)
        sc.lstm_preview.connect(self._lstm_preview)
        sc.lstm_iteration.connect(self._lstm_iteration)
        sc.lstm_done.connect(self._lstm_done)
        sc.curve_ready.connect(self._curve_ready)
        sc.match_ready.connect(self._match_ready)
        sc.blocks_ready.connect(self._blocks_ready)

    # ================================================================ layout
    def _build(self):
        self.setWindowTitle("lstm-compare")
        self.views = ComparisonViews()
        self.views.hovered.connect(self._hovered)
        self.views.double_clicked.connect(self._move_region)
        self.plot = RDPlot()
        self.plot.iterationClicked.connect(self.state.set_iteration)
        self.plot.setMinimumHeight(220)

        # image list
        self.list = QListWidget()
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setMinimumWidth(170)
        self.list.setMaximumWidth(260)
        self.list.currentRowChanged.connect(self._row_chosen)
        self.list.setToolTip("Opened images: click to switch (Up/Down). Drop files or folders here.")

        # controls
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(1, self.state.iterations)
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TicksBelow)
        self.slider.setTickInterval(1)
        self.slider.setToolTip("LSTM iterations = bitrate (0.125 bpp each). Left/Right arrows move it.")
        self.slider.valueChanged.connect(self.state.set_iteration)
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
        for key in self.state.classical_codecs:
            self.codec_box.addItem(CODECS[key].label, key)
        self.codec_box.setToolTip("Classical codec shown against the LSTM, at the same bpp")
        self.codec_box.currentIndexChanged.connect(lambda i: self.state.set_classical(self.codec_box.itemData(i)))

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
        self.mode_group.idClicked.connect(lambda i: self.state.set_mode(MODES[i]))

        self.gain = QSpinBox()
        self.gain.setRange(1, 64)
        self.gain.setPrefix("gain ×")
        self.gain.setValue(4)
        self.gain.setToolTip("Difference view: amplify errors (full colour scale = 255 / gain levels)")
        self.gain.valueChanged.connect(lambda g: self.state.set_diff(gain=g))
        self.signed = QCheckBox("signed")
        self.signed.setToolTip("Difference view: signed error (blue darker, red brighter than the original)")
        self.signed.toggled.connect(lambda on: self.state.set_diff(signed=on))

        self.metric_box = QComboBox()
        for k, scale in registry.scales().items():
            self.metric_box.addItem(scale.label + (" (computed on request)" if scale.metric.slow else ""), k)
        self.metric_box.setToolTip("Quality axis of the RD plot")
        self.metric_box.currentIndexChanged.connect(lambda i: self.state.set_metric(self.metric_box.itemData(i)))

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
        self.option_actions: dict[str, QAction] = {}
        self._switch(
            mm, "&Entropy-code the LSTM bits", "entropy",
            "Lossless range coding of the code bits: 9-17% fewer bytes on Kodak. "
            "Off: the paper's plain bits, 0.125 bpp per iteration.")
        em = mm.addMenu("E&ncoder")  # which bits to send: the decoder and the files' format stay
        self.encoder_actions = QActionGroup(self)
        for name, label in ENCODER_LABELS.items():
            a = QAction(label, self, checkable=True, data=name,
                        statusTip=f"{label} (codec/lstm/refine.py); files decode as usual"
                                  + (" · the default" if name == DEFAULT_ENCODER else ""))
            self.encoder_actions.addAction(a)
            em.addAction(a)
        self.encoder_actions.triggered.connect(lambda a: self.state.set_encoder(a.data()))
        dm = mm.addMenu("&Device")  # where the network runs; the files are the same wherever
        self.device_actions = QActionGroup(self)
        here = available_devices()
        for name in DEVICES:
            label = {"auto": "&Automatic (a GPU where there is one)", "cpu": "&CPU", "cuda": "NVIDIA GPU (C&UDA)",
                     "mps": "Apple GPU (&MPS)"}[name]
            a = QAction(label, self, checkable=True, data=name, enabled=name in ("auto", *here),
                        statusTip="Run the LSTM network here; files decode the same on any device (within one level)")
            self.device_actions.addAction(a)
            dm.addAction(a)
        self.device_actions.triggered.connect(lambda a: self.state.set_device(a.data()))
        pm = mm.addMenu("&Arithmetic")  # the files record it and decode in it, wherever
        self.precision_actions = QActionGroup(self)
        runs_here = runnable_precisions()
        for name in PRECISION_CHOICES:
            label = {"auto": "&Automatic (int8 where this CPU is fast at it)", "int8": "&int8 (integer convolutions)",
                     "bf16": "&bfloat16", "fp32": "&float32"}[name]
            a = QAction(label, self, checkable=True, data=name, enabled=name in runs_here,
                        statusTip="The LSTM network's arithmetic; the file records it and decodes in it anywhere")
            self.precision_actions.addAction(a)
            pm.addAction(a)
        self.precision_actions.triggered.connect(lambda a: self._set_precision(a.data()))
        mm.addSeparator()
        self._switch(
            mm, "Plot &every model's curve (Figure 5)", "all_models",
            "Encode each image with every shipped model too (in the background) and draw their curves; "
            "click a legend entry to hide or show a curve.")
        self._check_model_action()

        vm = mb.addMenu("&View")
        for i, mode in enumerate(MODES):
            act(vm, MODE_LABELS[mode], lambda _=False, m=mode: self.state.set_mode(m), f"Ctrl+{i + 1}")
        vm.addSeparator()
        act(vm, "&Fit", self.views.fit, "F")
        act(vm, "&1:1 pixels", self.views.one_to_one, "1")
        act(vm, "Zoom &in", lambda: self.views.zoom(1.25), QKeySequence.ZoomIn)
        act(vm, "Zoom &out", lambda: self.views.zoom(0.8), QKeySequence.ZoomOut)
        vm.addSeparator()
        act(vm, "Split divider &left", lambda: self.views.set_split_position(0.1), "[")
        act(vm, "Split divider &centre", lambda: self.views.set_split_position(0.5), "\\")
        act(vm, "Split divider &right", lambda: self.views.set_split_position(0.9), "]")

        sm = mb.addMenu("&Study")  # asking people which looks closer to the original (gui/study_setup.py)
        act(sm, "&New study…", self.new_study_dialog, None, "Stimuli of the LSTM and classical codecs at matched "
            "bitrates, for observers to compare")
        act(sm, "&Take part in a study…", self.take_part_dialog, None, "Answer a study's trials as an observer")
        act(sm, "&Analyse a study…", self.analyse_study_dialog, None,
            "Scale a study's answers in JOD (Thurstone Case V), with intervals and BD-rates")

        hm = mb.addMenu("&Help")
        act(hm, "&Keyboard shortcuts", self.show_shortcuts, "F1")
        act(hm, "&About lstm-compare", self.show_about)

        for key, step in (("Left", -1), ("Right", 1), ("PgDown", -1), ("PgUp", 1)):
            QShortcut(QKeySequence(key), self, lambda s=step: self.state.set_iteration(self.state.iteration + s))
        QShortcut(QKeySequence("Home"), self, lambda: self.state.set_iteration(1))
        QShortcut(QKeySequence("End"), self, lambda: self.state.set_iteration(self.state.iterations))
        QShortcut(QKeySequence("Escape"), self, self.cancel)

    def _switch(self, menu, text: str, option: str, tip: str) -> QAction:
        """A checkable menu entry for one of the LSTM's on/off options (gui/state.OPTIONS)."""
        action = QAction(text, self, checkable=True, checked=getattr(self.state, option), statusTip=tip)
        action.toggled.connect(lambda on: self.set_option(option, on))
        menu.addAction(action)
        self.option_actions[option] = action
        return action

    # ================================================================ settings
    def _restore_layout(self):
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

    def _save_settings(self):
        s = self.settings
        s.setValue("geometry", self.saveGeometry())
        s.setValue("hsplit", self.hsplit.saveState())
        s.setValue("vsplit", self.vsplit.saveState())
        self.state.save(s)
        s.sync()

    def closeEvent(self, event):
        self._save_settings()
        self.scheduler.stop()
        QGuiApplication.instance().removeEventFilter(self)
        super().closeEvent(event)

    def _show_controls(self):
        """Every control as the state says (at start, and when the codec changes)."""
        for show in (self._show_slider, self._show_classical, self._show_mode, self._show_metric,
                     self._show_diff, self._show_options):
            show()

    @staticmethod
    def _echo(widget, set_value):
        """Set a control from the state with its signals held: it only echoes the state."""
        blocked = widget.blockSignals(True)
        set_value()
        widget.blockSignals(blocked)

    def _show_slider(self):
        st = self.state
        self._echo(self.slider, lambda: (self.slider.setMaximum(st.iterations), self.slider.setValue(st.iteration)))

    def _show_classical(self):
        self._echo(self.codec_box, lambda: self.codec_box.setCurrentIndex(
            max(0, self.codec_box.findData(self.state.classical))))
        self.views.set_codec_label(self.state.codec_label())

    def _show_mode(self):
        mode = self.state.mode
        self.mode_group.button(MODES.index(mode)).setChecked(True)
        self.gain.setEnabled(mode == "diff")
        self.signed.setEnabled(mode == "diff")
        if self.views.mode != mode:
            self.views.set_mode(mode)

    def _show_metric(self):
        self._echo(self.metric_box, lambda: self.metric_box.setCurrentIndex(
            max(0, self.metric_box.findData(self.state.metric))))

    def _show_diff(self):
        st = self.state
        self._echo(self.gain, lambda: self.gain.setValue(st.gain))
        self._echo(self.signed, lambda: self.signed.setChecked(st.signed))
        self.views.set_diff_options(gain=float(st.gain), signed=st.signed)

    def _set_precision(self, name: str):
        try:
            self.state.set_precision(name)
        except CodecError as e:
            self._show_options()
            self.status(f"Kept {self.state.precision}: {e}")

    def _show_options(self):
        for name, action in self.option_actions.items():
            action.setChecked(getattr(self.state, name))
        for action in self.encoder_actions.actions():
            action.setChecked(action.data() == self.state.encoder)
        for action in self.device_actions.actions():
            action.setChecked(action.data() == self.state.device)
        for action in self.precision_actions.actions():
            action.setChecked(action.data() == self.state.precision)

    # ================================================================ opening
    @property
    def model(self) -> LoadedModel | None:
        return self.state.model

    def last_dir(self) -> str:
        return str(self.settings.value("last_dir", str(Path.home())))

    def close_image(self):
        if self.state.current is not None:
            self.close_entries([self.state.current])

    def close_all_images(self):
        self.close_entries(list(self.state.entries))

    def close_entries(self, entries: list[Entry]):
        """Remove images from the list: their work stops and their pictures and results are
        freed (the classical results stay in the disk cache)."""
        self.state.remove(entries)

    def _fill_list(self):
        """The list widget follows the state's entries (their items kept, the row held)."""
        blocked = self.list.blockSignals(True)
        items = getattr(self, "_items", {})
        self._items = {e: items.get(e) or self._item(e) for e in self.state.entries}
        while self.list.count():
            self.list.takeItem(0)
        for e in self.state.entries:
            self.list.addItem(self._items[e])
        cur = self.state.current
        self.list.setCurrentRow(self.state.entries.index(cur) if cur in self.state.entries else -1)
        self.list.blockSignals(blocked)
        self._update_title()

    def _item(self, e: Entry) -> QListWidgetItem:
        item = QListWidgetItem(e.name)
        item.setToolTip(str(e.path))
        return item

    def _entry_changed(self, e: Entry):
        item = self._items.get(e)
        if item is not None:
            if e.error:
                item.setText(f"{e.name}\n(unreadable)")
                item.setForeground(Qt.red)
                item.setToolTip(e.error)
            elif e.session is not None:
                if e.thumbnail is not None:
                    item.setIcon(icon(e.thumbnail))
                r, s = e.session.region, e.session
                item.setText(f"{e.name}\n{r.full_width}x{r.full_height}" if r else f"{e.name}\n{s.width}x{s.height}")
        if e.error:
            self.status(e.error, error=True)  # an image that failed to open says so, current or not
        if e is self.state.current:
            self._show_entry()
            if e.session is not None and e.session.notes:  # e.g. what a salvaged .lstm file lost
                self.status(f"{e.name}: {'; '.join(e.session.notes)}")

    def _row_chosen(self, row: int):
        entries = self.state.entries
        self.state.set_current(entries[row] if 0 <= row < len(entries) else None)

    def _move_region(self, x: int, y: int):
        """Double-click on a large photo: compare the region around that point instead."""
        e = self.state.current
        if e is None or e.region is None or e.session is None:
            return
        e.centre = (e.region.y + y, e.region.x + x)
        self.scheduler.reload(e)

    # ================================================================ drawing
    def _session(self) -> ImageSession | None:
        e = self.state.current
        return e.session if e is not None else None

    def _show_entry(self):
        """The current image: original, captions, plot, iteration."""
        e = self.state.current
        self._update_title()
        if self._items.get(e) is not None and self.list.currentItem() is not self._items[e]:
            blocked = self.list.blockSignals(True)
            self.list.setCurrentItem(self._items[e])
            self.list.blockSignals(blocked)
        if e is None or e.session is None:
            self.views.set_original(None)
            self.plot.set_curves(Curves())
            if e is not None and e.error:  # say why where the image would be, and in the status bar
                self.views.set_original_caption(f"{e.name} · unreadable")
                self.views.set_messages("nothing to compress", "nothing to compress", original=e.error)
                self.status(e.error, error=True)
            elif e is not None:
                self.views.set_original_caption("loading…")
                self.views.set_messages()
            self._show_iteration()
            return
        s = e.session
        self.views.set_original(s.original)
        note = f" · {'; '.join(s.notes)}" if s.notes else ""
        self.views.set_original_caption(f"{s.name} · {s.width}x{s.height}{note}")
        self._encoding_changed(self.scheduler.encoding)
        self._draw_plot()
        self._show_iteration()

    def _draw_plot(self):
        self.plot.set_curves(Curves.of(self._session()))

    def _show_iteration(self):
        """Show the state's iteration from the session's cache (what is missing, the
        scheduler computes)."""
        st, s = self.state, self._session()
        k, codec, total = st.iteration, st.classical, st.iterations
        if s is None:
            self.iter_label.setText(f"{k}/{total} iterations")
            self.views.set_lstm(None)
            self.views.set_classical(None)
            if self.state.current is None:
                self.views.set_messages()
            self.plot.set_current(k, codec)
            return
        nbytes = s.lstm_bytes(k)
        self.iter_label.setText(f"{k}/{total} iterations · {s.lstm_bpp(k):.3f} bpp · {nbytes:,} bytes" if nbytes
                                else f"{k}/{total} iterations · ≤ {s.lstm_bpp_bound(k):.3f} bpp (encoding)")
        avail, shown, lstm_msg = len(s.lstm), None, ""
        if avail:
            shown = s.lstm[min(k, avail) - 1]
            self.views.set_lstm(shown.reconstruction, caption(shown))
            if avail < k:
                lstm_msg = f"computing iteration {k}… (showing {avail})"
        elif self.scheduler.encoding is s and self.scheduler.previewed is s:
            lstm_msg = f"computing iteration {k}…" if k > 1 else ""
        else:
            self.views.set_lstm(None, "")
            lstm_msg = "encoding…" if self.scheduler.encoding is s else "not encoded (F5)"
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
        self.views.set_messages(lstm_msg, cls_msg)
        self.views.set_split_caption(f"left: LSTM {shown.bpp:.3f} bpp · right: {CODECS[codec].label} "
                                     f"{m.bpp:.3f} bpp" if shown is not None and m else "")
        self.plot.set_current(k, codec, s.lstm[k - 1] if k <= avail else None, m if k <= avail else None)
        if st.mode == "diff":
            self._warm_timer.start()
        elif st.mode == "bits":
            self._show_blocks()

    def _show_blocks(self):
        s, k = self._session(), self.state.iteration
        if s is None:
            return
        if k > len(s.lstm):
            self.views.set_block_maps(None, f"iteration {k} is not encoded yet…")
        elif s.cached_block_costs(k) is not None:
            self.views.set_block_maps(s.cached_block_costs(k), coding=s.coding_mode(k))
        else:
            self.views.set_block_maps(None, f"measuring iteration {k}'s blocks…")

    def _warm_neighbours(self):
        """After a move in the difference view, the neighbours' error maps are computed in
        the next idle moment, so the following step is a cache look-up."""
        s = self._session()
        if s is None or self.state.mode != "diff":
            return
        k, codec, recs = self.state.iteration, self.state.classical, []
        for j in (k + 1, k - 1):
            if 1 <= j <= len(s.lstm):
                recs.append(s.lstm[j - 1].reconstruction)
            m = s.matches.get((codec, j))
            if m is not None:
                recs.append(m.reconstruction)
        self.views.warm(recs)

    def _classical_changed(self, key: str):
        self._show_classical()
        self._show_iteration()
        self._draw_plot()

    def _mode_changed(self, mode: str):
        self._show_mode()
        if mode == "diff":
            self._warm_timer.start()
        self._show_iteration()

    def _metric_changed(self, metric: str):
        self._show_metric()
        self.plot.set_metric(metric)
        m = registry.scale(metric).metric
        if m.slow and self._session() is not None:
            self.status(f"Measuring {m.label} for {self._session().name}'s samples in the background…")

    def _diff_changed(self):
        self._show_diff()

    def _hovered(self, x: int, y: int):
        e = self.state.current
        r = e.region if e is not None else None
        parts = [f"x {x}, y {y}" if r is None else f"x {r.x + x}, y {r.y + y} (in the photo)"]
        for name, img in (("original", self.views.original), ("LSTM", self.views.lstm),
                          (self.state.codec_label(), self.views.classical)):
            if img is not None:
                cr, cg, cb = img[y, x]
                parts.append(f"{name} ({cr}, {cg}, {cb})")
        maps = self.views.block_maps
        if self.state.mode == "bits" and maps is not None:
            by, bx = y // 16, x // 16
            parts.append(f"block ({bx}, {by}): {maps[0][by, bx]:.1f} bits, MSE removed {maps[1][by, bx]:.2f}")
        self.readout.setText(" · ".join(parts))

    # ================================================================ results
    def _encoding_changed(self, s):
        shown = s is not None and s is self._session()
        if shown:
            self.progress.setRange(0, self.state.iterations)
            self.progress.setValue(len(s.lstm))
        self.progress.setVisible(shown)
        self.cancel_btn.setVisible(shown)

    def _lstm_preview(self, s: ImageSession, k: int, image, draft: bool):
        """The first reconstruction goes on screen before its metrics are computed (and,
        with a refining encoder, the encoder network's own before the search)."""
        if s is self._session():
            self.views.set_lstm(image, "1 it. · refining the bits…" if draft else "1 it. · computing metrics…")
            self._show_iteration()

    def _lstm_iteration(self, s: ImageSession, point):
        if s is not self._session():
            return
        self.progress.setValue(point.iteration)
        self.views.prepare(point.reconstruction)
        self._draw_plot()  # a new point on the LSTM curve
        if point.iteration <= self.state.iteration:
            self._show_iteration()

    def _lstm_done(self, s: ImageSession, complete: bool):
        if s is not self._session():
            return
        if complete:
            self.status(f"{s.name}: {len(s.lstm)} iterations encoded ({s.lstm[-1].encode_seconds:.1f} s).")
        self._draw_plot()  # the BD-rate can be computed now
        self._show_iteration()

    def _curve_ready(self, s: ImageSession, key: str):
        if s is self._session():
            self._draw_plot()
            if key in s.failures and key == self.state.classical:
                self._show_iteration()  # the pane says why

    def _match_ready(self, s: ImageSession, codec: str, k: int):
        if s is not self._session():
            return
        if codec == self.state.classical and (k == self.state.iteration or codec in s.failures):
            self._show_iteration()
        elif (codec, k) in s.matches:
            self.views.prepare(s.matches[(codec, k)].reconstruction)

    def _blocks_ready(self, s: ImageSession, k: int):
        if s is self._session() and k == self.state.iteration and self.state.mode == "bits":
            self.views.set_block_maps(s.cached_block_costs(k), coding=s.coding_mode(k))

    def _worker_failed(self, what: str, message: str):
        self.status(f"Error while {what}: {message}", error=True)
        self._show_iteration()

    # ================================================================ commands
    def cancel(self):
        if self.scheduler.cancel_encode():
            self.status("Encoding cancelled; press F5 to encode again.")
            self._show_iteration()

    def reencode(self):
        s = self._session()
        if s is not None:
            self.scheduler.encode(s)
            self._draw_plot()
            self._show_iteration()

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

    def status(self, text: str, error: bool = False):
        self.statusBar().setStyleSheet("color: #ff8080;" if error else "")
        self.statusBar().showMessage(text, 15000)

    def _update_title(self):
        st = self.state
        name = st.current.name if st.current else ""
        model = f"{display_name(st.model)}, model {st.model.model_id}" if st.model else "no model"
        if st.model and not st.entropy:
            model += ", plain bits"
        if st.model:
            model += f", {st.encoder} encoder"
        self.setWindowTitle(f"{name + ' — ' if name else ''}lstm-compare ({model})")

    # ================================================================ exports
    def ready(self, k: int | None = None, curves: bool = False) -> bool:
        """Whether iteration k (default: the state's) and its classical match are on screen
        (and, with curves, everything the plot and the view will show: every classical RD
        curve, the other models' curves and the slow metric when asked for, the block maps
        in the bits view)."""
        st, s = self.state, self._session()
        k = k or st.iteration
        if not (s and len(s.lstm) >= k):
            return False
        m = s.matches.get((st.classical, k))
        if m is None or (k == st.iteration and self.views.classical is not m.reconstruction):
            return False  # not computed, or its result not yet delivered to the views
        if not curves:
            return True
        verdict = [registry.scale(v).metric.id for v in VERDICT_SCALES]  # the headline's, on its two curves
        return (all(c in s.curves or c in s.failures for c in st.classical_codecs)
                and all(mid in s.model_curves for mid in self._model_names())
                and not any(p.missing([registry.scale(st.metric).metric.id]) for p in s.samples())
                and (st.classical in s.failures
                     or not any(p.missing(verdict) for p in [*s.lstm, *s.curves.get(st.classical, [])]))
                and (st.mode != "bits" or self.views.block_maps is not None))

    # ================================================================ model and encoder
    OPTION_MESSAGES = {
        ("entropy", True): "LSTM bits entropy-coded (lossless).",
        ("entropy", False): "LSTM bits stored plain, as in the paper: 0.125 bpp per iteration.",
    }

    def set_option(self, name: str, on: bool):
        """One of the LSTM's switches (entropy, all_models): the open images are
        re-encoded when the bits change; the classical curves stay."""
        self.state.set_option(name, on)

    def _option_changed(self, name: str, value):
        self.settings.setValue(name, value)
        self._show_options()
        if name == "all_models":
            self.plot.set_model_names(self._model_names(), self._lstm_name())
            self._draw_plot()
        elif name == "encoder":
            self.status(f"LSTM encoder: {ENCODER_LABELS[value]}; re-encoding the open images.")
        elif name == "precision":
            self.status(f"The LSTM computes in {self.state.codec.precision if self.state.codec else value}; "
                        "re-encoding the open images.")
        elif name == "device":
            self.status(f"The LSTM runs on {self.state.codec.device.type.upper() if self.state.codec else value}; "
                        "re-encoding the open images.")
        else:
            self.status(self.OPTION_MESSAGES[(name, value)])

    def _codec_changed(self):
        self._check_model_action()
        self.plot.set_trained_for(trained_for(self.model.meta) if self.model else "")
        self.plot.set_model_names(self._model_names(), self._lstm_name())
        self._show_controls()
        self._show_entry()

    def _lstm_name(self) -> str:
        """The legend name of the model in use's curve: its name once other models are drawn
        (a shipped model's by the name the others' curves have)."""
        if not (self.state.all_models and self.model):
            return "LSTM"
        return f"LSTM {display_name(self.model)} (in use)"

    def _model_names(self) -> dict[str, str]:
        """model id -> legend name of the curves drawn besides the model in use."""
        return {mid: f"LSTM {name}" for mid, name, _ in self.state.plot_models()}

    def _check_model_action(self):
        current = Path(self.model.path).resolve() if self.model else None
        for a in self.model_actions.actions():
            a.setChecked(current is not None and Path(a.data()).resolve() == current)
