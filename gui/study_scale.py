"""A study's answers scaled in JOD (codec/study/scale.py), drawn like the RD plot: JOD against
bpp per codec with the 95% intervals, an image (or all of them) at a time, the BD-rates on the
JOD scale, each observer's check trials (failing ones may be left out) and the warnings. Reading
the study changes nothing in its folder; Export writes scale.csv, scale.json and scale.png where
the user says."""
from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QPushButton, QVBoxLayout, QWidget)

from codec.base.errors import CodecError
from codec.classical import CODECS

from .rdplot import COLORS


def _label(codec: str) -> str:
    return "the LSTM" if codec == "lstm" else CODECS[codec].label if codec in CODECS else codec


class _Signals(QObject):
    done = Signal(object, str)  # the StudyScale (or None), the error sentence


class StudyScaleWindow(QWidget):
    def __init__(self, folder, responses, parent=None):
        super().__init__(parent, Qt.Window)
        self.setAttribute(Qt.WA_DeleteOnClose)
        self.folder, self.responses, self.scale = folder, responses, None
        self.setWindowTitle(f"Study: {folder} — lstm-compare")
        self.image_box = QComboBox()
        self.image_box.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.image_box.currentIndexChanged.connect(lambda _: self._draw())
        self.export_btn = QPushButton("Export…")
        self.export_btn.clicked.connect(self._export)
        self.export_btn.setEnabled(False)
        top = QHBoxLayout()
        self.status = QLabel("Scaling the answers (Thurstone Case V, 500 bootstrap resamples over observers)…")
        top.addWidget(self.status, 1)
        top.addWidget(self.image_box)
        top.addWidget(self.export_btn)
        self.plot = pg.PlotWidget(background=(30, 30, 30))
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "bits per pixel (real file bytes, on the study's crop)")
        self.plot.setLabel("left", "quality (JOD: 1 = a 75% preference)")
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).enableAutoSIPrefix(False)
        self.plot.addLegend(offset=(-10, -10), labelTextSize="8pt")
        self.observers = QListWidget()
        self.observers.setToolTip("Tick to leave an observer out (those failing the trap trials are marked)")
        self.observers.itemChanged.connect(lambda _: self._rescale())
        self.verdict = QLabel("")
        self.verdict.setWordWrap(True)
        side = QVBoxLayout()
        side.addWidget(QLabel("Observers (tick to leave out):"))
        side.addWidget(self.observers, 1)
        side.addWidget(self.verdict)
        body = QHBoxLayout()
        body.addWidget(self.plot, 3)
        body.addLayout(side, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addLayout(body, 1)
        self._signals = _Signals(self)
        self._signals.done.connect(self._scaled)
        self.resize(1100, 700)
        self._rescale()

    def excluded(self) -> list[str]:
        return [self.observers.item(i).data(Qt.UserRole) for i in range(self.observers.count())
                if self.observers.item(i).checkState() == Qt.Checked]

    def _rescale(self):
        """Scale again (off the GUI thread: the bootstrap takes a second or more)."""
        from codec.study.scale import analyse
        exclude = self.excluded()
        self.export_btn.setEnabled(False)

        def run():
            try:
                self._signals.done.emit(analyse(self.responses, exclude=exclude), "")
            except CodecError as e:
                self._signals.done.emit(None, str(e))

        threading.Thread(target=run, name="study-scale", daemon=True).start()

    def _scaled(self, scale, error: str):
        if scale is None:
            self.status.setText(f"The answers could not be scaled: {error}")
            return
        self.scale = scale
        n = scale.settings.get("observers", 0)
        self.status.setText(f"{n} observer{'s' if n != 1 else ''}, {len(scale.images)} image"
                            f"{'s' if len(scale.images) != 1 else ''}; JOD 0 is the lowest bitrate of {_label(scale.anchor)}"
                            + "".join(f" {w}" for w in scale.warnings))
        self.observers.blockSignals(True)
        if self.observers.count() == 0:
            for o in scale.observers:
                share = "no trap trials" if o.traps == 0 else f"{o.traps_wrong} of {o.traps} traps wrong"
                item = QListWidgetItem(f"{o.observer}: {o.answers} answers, {share}"
                                       + (" — failed the checks" if o.failed else ""))
                item.setData(Qt.UserRole, o.observer)
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                item.setCheckState(Qt.Unchecked)
                self.observers.addItem(item)
        self.observers.blockSignals(False)
        current = self.image_box.currentData()
        self.image_box.blockSignals(True)
        self.image_box.clear()
        for image in ["all", *scale.images]:
            self.image_box.addItem("all images" if image == "all" else image, image)
        self.image_box.setCurrentIndex(max(0, self.image_box.findData(current)))
        self.image_box.blockSignals(False)
        self.export_btn.setEnabled(True)
        self._draw()

    def _draw(self):
        s = self.scale
        self.plot.clear()
        if s is None:
            return
        image = self.image_box.currentData() or "all"
        rows = s.rows_of(image)
        for codec in sorted({r.codec for r in rows}):
            mine = sorted((r for r in rows if r.codec == codec and math.isfinite(r.jod)), key=lambda r: r.bpp)
            if not mine:
                continue
            colour = COLORS.get(codec, (200, 200, 200))
            x, y = np.array([r.bpp for r in mine]), np.array([r.jod for r in mine])
            low = np.array([r.jod - r.ci_low if math.isfinite(r.ci_low) else 0 for r in mine])
            high = np.array([r.ci_high - r.jod if math.isfinite(r.ci_high) else 0 for r in mine])
            self.plot.addItem(pg.ErrorBarItem(x=x, y=y, bottom=low, top=high, beam=0.01, pen=pg.mkPen(colour)))
            self.plot.plot(x, y, name=_label(codec), pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=7,
                           symbolBrush=colour, symbolPen=None)
        bd = s.bd_rates.get(image, {})
        lines = [f"{_label(c)}: {'no overlap' if math.isnan(v) else f'{v:+.1f}%'}" for c, v in bd.items()]
        self.verdict.setText(f"BD-rate on the JOD scale against {_label(s.anchor)} ({image}):\n" + "\n".join(lines)
                             if lines else "")

    def _export(self):
        from codec.study.scale import write
        folder = QFileDialog.getExistingDirectory(self, "Export the scale (scale.csv, scale.json, scale.png) to",
                                                  str(self.folder))
        if not folder:
            return
        try:
            files = write(self.scale, folder)
            self.status.setText("Wrote " + ", ".join(str(f) for f in files))
        except CodecError as e:
            self.status.setText(str(e))


def analyse_dialog(window) -> None:
    """Pick a study folder (or responses files) and show its scale."""
    from codec.study.responses import read_responses
    folder = QFileDialog.getExistingDirectory(window, "The study to analyse", window.last_dir())
    if not folder:
        return
    files = sorted((Path(folder) / "responses").glob("*.csv"))
    if not files:
        window.status(f"{folder} holds no answers yet (responses/*.csv); observers take part with Study > Take part.",
                      error=True)
        return
    try:
        responses = read_responses(files)
    except CodecError as e:
        window.status(str(e), error=True)
        return
    w = StudyScaleWindow(folder, responses, window)
    w.show()
