"""The data set window: a folder (or several images) as a whole.

Mean RD curves of the LSTM and every classical codec, a table of each codec's BD-rate
against the chosen anchor, and one row per image (the LSTM's BD-rate against the anchor,
worst first; sortable by any column; a double-click opens the image in the main window).
Computed image by image in a background thread (codec/rd/dataset.py, cached on disk), with a
progress bar and a Cancel button; the tables (CSV, CompressAI JSON) and the plot (PNG, SVG)
export from the buttons."""
from __future__ import annotations

import csv
import json
import math
import threading
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from codec.base.atomic import atomic_path, write_text
from codec.classical import get_codec
from codec.rd.dataset import DatasetSummary, curve_points, intervals, model_points, summarize
from codec.lstm.zoo import display_name
from codec.rd.published import load as load_published, matching, shipped
from codec.base.errors import CodecError
from codec.quality import registry
from codec.rd.bd import DEFAULT_SCALE, bd_scales
from codec.rd.results import compressai_json
from codec.rd.verdict import disagreement, sentence, trained_for, verdicts
from codec.imaging.imageio import content_key, load_rgb

from .export import ExportError, export_plot
from .rdplot import COLORS, MODEL_COLORS
from .worker import CLASSICAL_RUNNER, Ticket, Workers

# A data set's images wait on the workers behind the open image's work: on the LSTM worker its
# encode (0) and other models' curves (10), on the classical one its curves, matches and metrics (up to 15).
DATASET_PRIORITY = 20



class _Signals(QObject):
    part_done = Signal(str, str, object)  # image name, which part, its points (an error sentence; None: stopped)
    finished = Signal(bool)           # complete (False: cancelled)
    intervals_ready = Signal(object, object)  # (anchor, method), codec -> BD-rate interval


class NumberItem(QTableWidgetItem):
    """A table cell that sorts by its number (NaN last)."""

    def __init__(self, value: float, text: str | None = None):
        super().__init__(text if text is not None else ("–" if math.isnan(value) else f"{value:+.1f}%"))
        self.value = value
        self.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)

    def __lt__(self, other):
        a = self.value if not math.isnan(self.value) else math.inf
        b = getattr(other, "value", math.inf)
        return a < (b if not math.isnan(b) else math.inf)


class DatasetWindow(QWidget):
    open_image = Signal(str)  # a path the user double-clicked

    def __init__(self, paths: list[Path], codec, keys: list[str], workers: Workers, other_models: dict | None = None,
                 asked: tuple[str, ...] = (), parent=None):
        """`workers`: the app's (gui/worker.py), which run each image as a job behind the open
        image's work; `other_models`: name -> LSTMCodec of more models whose mean curves to draw
        (Figure 5); `asked`: the on-request metrics to measure too (SSIMULACRA2: about 0.3 s per
        point at Kodak's size)."""
        super().__init__(parent, Qt.Window)
        self.setAttribute(Qt.WA_DeleteOnClose)
        self.paths, self.codec, self.keys = list(paths), codec, list(keys)
        self.other_models = dict(other_models or {})
        self.asked = tuple(asked)
        measured = [x for x in registry.all_metrics() if not x.slow or x.id in self.asked]
        # BD scale id -> its label: the table's columns, the default's first
        self.bd_columns = {k: registry.scale(k).label for k in bd_scales() if registry.scale(k).metric in measured}
        self._per_image_bd: dict = {}  # (image, anchor, method) -> its BD-rates: each computed once
        self._complete = False  # every image in: the BD-rates' intervals are worth their seconds
        self._intervals: dict = {}  # (anchor, method) -> codec -> interval, computed off the GUI thread
        self._content: dict[str, str] = {}  # image name -> content key: which published curves are of these images
        self.published: dict = {}  # key -> PublishedCurve measured on these images (once every image is in)
        self.points: dict[str, list] = {}   # image name -> its points
        self.errors: dict[str, str] = {}    # image name -> why it could not be evaluated
        self.summary: DatasetSummary | None = None
        self._workers, self._ticket = workers, Ticket()
        self._todo = list(self.paths)
        self._parts: dict[str, dict] = {}   # image name -> its parts in so far ("_lstm_part", "_classical_part")
        self._at_work = threading.Condition()
        self._running = 0                    # parts of this window's images at work on a worker
        self._ended = False
        self._signals = _Signals()
        self._signals.part_done.connect(self._part_done)
        self._signals.finished.connect(self._finished)
        self._signals.intervals_ready.connect(self._intervals_ready)
        self.setWindowTitle(f"Data set: {len(self.paths)} images — lstm-compare")
        self._build()
        self.resize(1200, 860)
        self._next()

    # -- layout ---------------------------------------------------------------------
    def _build(self):
        top = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, len(self.paths))
        self.progress.setFormat("%v of %m images")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancel)
        self.anchor_box = QComboBox()
        for k in self.keys:
            self.anchor_box.addItem(f"vs {get_codec(k).label}", k)
        self.anchor_box.setToolTip("The anchor the BD-rates are computed against")
        self.anchor_box.currentIndexChanged.connect(lambda _: self._refresh())
        self.metric_box = QComboBox()
        for k in self.bd_columns:
            self.metric_box.addItem(registry.scale(k).label, k)
        self.metric_box.setToolTip("The quality axis of the plot and the metric the per-image BD-rates use")
        self.metric_box.currentIndexChanged.connect(lambda _: self._refresh())
        self.method_box = QComboBox()
        for m, text in (("pchip", "BD: pchip (JVET)"), ("akima", "BD: Akima")):
            self.method_box.addItem(text, m)
        self.method_box.setToolTip("How the BD-rates interpolate the RD curves: pchip, as JVET's common test "
                                   "conditions and CompressAI, or Akima")
        self.method_box.currentIndexChanged.connect(lambda _: self._refresh())
        self.import_btn = QPushButton("Add a published curve…")
        self.import_btn.setToolTip("RD points of another codec on these images (CompressAI's JSON shape, or CSV), "
                                   "to draw and to compute BD-rates against; enabled once every image is in")
        self.import_btn.setEnabled(False)
        self.import_btn.clicked.connect(self._import_dialog)
        export_tables = QPushButton("Export tables…")
        export_tables.clicked.connect(self._export_tables_dialog)
        export_plot_btn = QPushButton("Export plot…")
        export_plot_btn.clicked.connect(self._export_plot_dialog)
        for w in (self.progress, self.cancel_btn, self.anchor_box, self.metric_box, self.method_box, self.import_btn,
                  export_tables, export_plot_btn):
            top.addWidget(w, 1 if w is self.progress else 0)
        self.plot = pg.PlotWidget(background=(30, 30, 30))
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "bits per pixel (mean over the images)")
        self.plot.addLegend(offset=(-10, -10), labelTextSize="8pt", colCount=2)
        self.bd_table = QTableWidget(0, 1)
        self.image_table = QTableWidget(0, 1)
        self.image_table.setSortingEnabled(True)
        self.image_table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.bd_table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.image_table.cellDoubleClicked.connect(self._row_opened)
        self.status = QLabel("")
        self.verdict = QLabel("")  # the LSTM's verdict against the anchor on every verdict metric, in words
        self.verdict.setWordWrap(True)
        tables = QSplitter(Qt.Horizontal)
        tables.addWidget(self.bd_table)
        tables.addWidget(self.image_table)
        tables.setSizes([620, 580])  # the BD table: rates, their interval and range
        body = QSplitter(Qt.Vertical)
        body.addWidget(self.plot)
        body.addWidget(tables)
        body.setSizes([480, 380])
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(body, 1)
        lay.addWidget(self.verdict)
        lay.addWidget(self.status)

    # -- work -----------------------------------------------------------------------
    def _next(self):
        """Queue the next image, one at a time and behind the open image's work (a larger
        priority number): its LSTM curves on the app's LSTM worker, its classical curves on the
        classical worker, which hands them to the codecs' child processes as it does the main
        window's."""
        if not self._todo:
            return self._signals.finished.emit(True)
        path = self._todo.pop(0)
        self._parts[path.name] = {}
        for thread, part in (("lstm", self._lstm_part), ("classic", self._classical_part)):
            self._workers.submit(thread, lambda ticket, part=part: self._run_part(path, part, ticket), self._ticket,
                                 priority=DATASET_PRIORITY, what=f"evaluating {path.name} of the data set")

    def _run_part(self, path: Path, part, ticket: Ticket):
        """On a worker: one part of an image's points (an error sentence if it cannot be read or
        coded; None if cancelled meanwhile)."""
        with self._at_work:
            self._running += 1
        try:
            result = part(path.name, load_rgb(path).pixels, ticket)
        except CodecError as e:
            result = str(e)
        finally:
            with self._at_work:
                self._running -= 1
                self._at_work.notify_all()
        self._signals.part_done.emit(path.name, part.__name__, result)

    def _lstm_part(self, name: str, pixels, ticket: Ticket) -> list | None:
        self._content[name] = content_key(pixels)
        points = curve_points(pixels, name, "lstm", self.codec, None, self.asked)
        for label, codec in self.other_models.items():
            if ticket.cancelled:
                return None
            points += model_points(pixels, name, codec, label, asked=self.asked)
        return points

    def _classical_part(self, name: str, pixels, ticket: Ticket) -> list | None:
        calls = [(pixels, name, key, None, None, self.asked) for key in self.keys]
        curves = CLASSICAL_RUNNER.map(curve_points, calls, should_stop=lambda: ticket.cancelled)
        return None if len(curves) < len(calls) else [p for curve in curves for p in curve]

    def _part_done(self, name: str, part: str, result):
        parts = self._parts.get(name)
        if parts is None:
            return
        parts[part] = result
        if len(parts) == 2:
            del self._parts[name]
            lstm, classical = parts["_lstm_part"], parts["_classical_part"]
            failed = next((r for r in (lstm, classical) if isinstance(r, str)), None)
            self._image_done(name, failed or (None if lstm is None or classical is None else lstm + classical))

    def cancel(self):
        self._ticket.cancel()
        self.cancel_btn.setEnabled(False)
        self.status.setText("Stopping after the codec at work…")
        if self.wait(0):  # queued parts are skipped: no job will say it stopped
            self._signals.finished.emit(False)

    def wait(self, timeout: float | None = None) -> bool:
        """Whether no image of this window is at work (waiting up to `timeout` seconds)."""
        with self._at_work:
            return self._at_work.wait_for(lambda: self._running == 0, timeout)

    def closeEvent(self, event):
        self._ticket.cancel()
        super().closeEvent(event)

    def _image_done(self, name: str, result):
        if result is None:
            return self._signals.finished.emit(False)
        if isinstance(result, str):
            self.errors[name] = result
        else:
            self.points[name] = result
        self.progress.setValue(len(self.points) + len(self.errors))
        self._refresh()
        if not self._ticket.cancelled:
            self._next()

    def _intervals_ready(self, key, values: dict):
        self._intervals[key] = values
        if key == (self.anchor, self.method_box.currentData()):
            self._refresh()

    def _finished(self, complete: bool):
        if self._ended:  # a cancel and the job it stopped may both say so
            return
        self._ended = True
        self.cancel_btn.setEnabled(False)
        done = f"{len(self.points)} of {len(self.paths)} images evaluated"
        skipped = f"; {len(self.errors)} could not be: " + "; ".join(self.errors.values()) if self.errors else ""
        self.status.setText(("Done: " if complete else "Cancelled: ") + done + skipped)
        self._complete = True
        if complete and not self.errors:  # the same images as a published curve's, or none
            for c in matching(shipped(), self._content)[0]:
                self._add_published(c)
            self.import_btn.setEnabled(True)
        self._refresh()

    def _add_published(self, curve) -> None:
        self.published[curve.key] = curve
        if self.anchor_box.findData(curve.key) < 0:
            self.anchor_box.addItem(f"vs {curve.label} (published)", curve.key)

    def add_published(self, path) -> str:
        """A curve of your own from a file; returns what happened, in a sentence."""
        curve = load_published(path)
        keep, notes = matching([curve], self._content)
        if not keep:
            return notes[0]
        self._add_published(keep[0])
        self._refresh()
        return f"Added {curve.label}: {len(curve.curve['bpp'])} points ({curve.conventions or 'no conventions given'})."

    def _import_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self, "Add a published curve", "", "RD points (*.json *.csv)")
        if path:
            try:
                self.status.setText(self.add_published(path))
            except CodecError as e:
                self.status.setText(str(e))

    # -- views ----------------------------------------------------------------------
    @property
    def anchor(self) -> str:
        return self.anchor_box.currentData()

    @property
    def metric(self) -> str:
        """The plotted scale (a BD scale id of codec/quality/registry.py), also the per-image BD-rates'."""
        return self.metric_box.currentData()

    def _refresh(self):
        pts = [p for ps in self.points.values() for p in ps]
        if not pts:
            return
        method = self.method_box.currentData()
        self.summary = summarize(pts, self.anchor, self._per_image_bd, method,
                                 {k: c.curve for k, c in self.published.items()})
        if self._complete:
            key = (self.anchor, method)
            if key not in self._intervals:
                self._intervals[key] = None  # being computed
                threading.Thread(target=lambda: self._signals.intervals_ready.emit(key, intervals(pts, *key)),
                                 name="bd-intervals", daemon=True).start()
            self.summary.intervals = self._intervals[key] or {}
        self._draw_plot()
        self._fill_bd_table()
        self._fill_image_table()
        self._say_verdict()

    def _draw_plot(self):
        self.plot.clear()
        values = self.metric
        self.plot.setLabel("left", registry.scale(values).label)
        others = [k for k in self.summary.curves if k.startswith("lstm:") or k in self.published]
        for key, curve in self.summary.curves.items():
            if values not in curve:
                continue
            c = MODEL_COLORS[others.index(key) % len(MODEL_COLORS)] if key in others else COLORS.get(key, (200, 200, 200))
            style = Qt.DotLine if key in self.published else Qt.DashLine if key in others else Qt.SolidLine
            self.plot.plot(curve["bpp"], curve[values], name=self.label(key),
                           pen=pg.mkPen(c, width=2 if key == "lstm" else 1.5, style=style),
                           symbol="o" if key.startswith("lstm") else "s", symbolSize=6, symbolBrush=c, symbolPen=None)
        top = max(max(c["bpp"]) for k, c in self.summary.curves.items() if k.startswith("lstm"))
        self.plot.setXRange(0, top * 1.25, padding=0)  # the classical curves' top settings go far beyond

    def _say_verdict(self):
        """The LSTM against the anchor on MS-SSIM, SSIMULACRA2 and PSNR, with the metric it was
        trained for and, when they disagree in sign, which way each goes."""
        s, anchor = self.summary, self.anchor
        if anchor not in s.curves or "lstm" not in s.curves:
            self.verdict.setText("")
            return
        label = self.label(anchor)
        found = verdicts(s.curves[anchor], s.curves["lstm"], s.method)
        lines = [f"The LSTM was trained for {trained_for(self.codec.model.meta)}. Against {label}:"]
        lines += [sentence(v, "the LSTM", label) + "." for v in found]
        split = disagreement(found, "the LSTM", label)
        self.verdict.setText(" ".join(lines + ([split] if split else [])))

    def _fill_bd_table(self):
        metrics = list(self.bd_columns)
        s = self.summary
        t = self.bd_table
        t.clear()
        t.setColumnCount(3 + len(metrics))
        t.setHorizontalHeaderLabels([f"BD-rate vs {self.label(self.anchor)} ({s.method})"]
                                    + [self.bd_columns[m] for m in metrics]
                                    + ["MS-SSIM dB, 95% interval across images", "over MS-SSIM dB"])
        rows = [k for k in s.curves if k != self.anchor]
        t.setRowCount(len(rows))
        for i, k in enumerate(rows):
            t.setItem(i, 0, QTableWidgetItem(self.label(k)))
            for j, m in enumerate(metrics):
                t.setItem(i, 1 + j, NumberItem(s.bd.get(k, {}).get(m, math.nan)))
            lo, hi = s.intervals.get(k, (math.nan, math.nan))
            t.setItem(i, 1 + len(metrics), QTableWidgetItem(
                f"{lo:+.1f}% to {hi:+.1f}%" if math.isfinite(lo) else "–" if k in s.intervals
                else "computing…" if self._complete else "when done"))
            span = s.overlaps.get(k)
            t.setItem(i, 2 + len(metrics), QTableWidgetItem(f"{span[0]:.1f}-{span[1]:.1f} dB" if span else "–"))
        t.resizeColumnsToContents()

    def _fill_image_table(self):
        t = self.image_table
        key = self.metric
        t.setSortingEnabled(False)
        t.clear()
        headers = ["image", f"LSTM BD-rate vs {self.label(self.anchor)} ({self.bd_columns[key]})",
                   "LSTM bpp, last iteration", "LSTM MS-SSIM, last iteration", "LSTM PSNR, last iteration"]
        t.setColumnCount(len(headers))
        t.setHorizontalHeaderLabels(headers)
        t.setRowCount(len(self.summary.images))
        for i, image in enumerate(self.summary.images):
            last = [p for p in self.points[image] if p.codec == "lstm"][-1]
            t.setItem(i, 0, QTableWidgetItem(image))
            t.setItem(i, 1, NumberItem(self.summary.per_image.get(image, {}).get(key, math.nan)))
            t.setItem(i, 2, NumberItem(last.bpp, f"{last.bpp:.3f}"))
            ms, ps = last.value("ms-ssim-rgb"), last.value("psnr-rgb")
            t.setItem(i, 3, NumberItem(ms, f"{ms:.4f}"))
            t.setItem(i, 4, NumberItem(ps, f"{ps:.2f}"))
        t.setSortingEnabled(True)
        t.sortItems(1, Qt.DescendingOrder)  # worst first: where the LSTM needs the most bits
        t.resizeColumnsToContents()

    def _row_opened(self, row: int, _col: int):
        name = self.image_table.item(row, 0).text()
        for p in self.paths:
            if p.name == name:
                self.open_image.emit(str(p))
                return

    # -- exports --------------------------------------------------------------------
    def export_tables(self, path) -> None:
        """CSV: the BD table then one row per image; JSON: the mean curves in CompressAI's
        shape, the BD-rates and the per-image BD-rates."""
        path = Path(path)
        s = self.summary
        if s is None:
            raise ExportError("nothing is computed yet; wait for the first image.")
        try:
            if path.suffix.lower() == ".csv":
                with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
                    w = csv.writer(f)
                    w.writerow(["codec", *[f"bd_rate_vs_{s.anchor}_{m}" for m in self.bd_columns],
                                f"{DEFAULT_SCALE}_95ci_low", f"{DEFAULT_SCALE}_95ci_high", "bd_interpolation"])
                    for k, bd in s.bd.items():
                        w.writerow([k, *[bd.get(m, "") for m in self.bd_columns], *s.intervals.get(k, ("", "")),
                                    s.method])
                    w.writerow([])
                    w.writerow(["image", *[f"lstm_bd_rate_vs_{s.anchor}_{m}" for m in self.bd_columns]])
                    for image, bd in s.per_image.items():
                        w.writerow([image, *[bd.get(m, "") for m in self.bd_columns]])
            else:
                doc = {"images": s.images, "anchor": s.anchor,
                       "results": [compressai_json(f"LSTM {self.codec.model.model_id}" if k == "lstm" else self.label(k),
                                                   self._describe(k), c) for k, c in s.curves.items()],
                       "bd_rate_percent_vs_anchor": s.bd, "bd_interpolation": s.method,
                       f"{DEFAULT_SCALE}_bd_rate_95ci_across_images": s.intervals,
                       "lstm_bd_rate_percent_per_image": s.per_image}
                write_text(path, json.dumps(doc, indent=2, default=lambda v: None))
        except OSError as e:
            raise ExportError(f"could not write {path} ({e.strerror}); choose another place.") from None

    def label(self, key: str) -> str:
        """What the plot and tables call a curve: a published one by its name, the model in use
        by its name once other models are drawn (as the main window's legend does), else label()."""
        if key in self.published:
            return f"{self.published[key].label} (published)"
        if key == "lstm" and self.other_models:
            return f"LSTM {display_name(self.codec.model)} (in use)"
        return label(key)

    def _describe(self, key: str) -> str:
        if key in self.published:
            c = self.published[key]
            return f"{c.conventions} Source: {c.source}"
        if key == "lstm":
            return self.codec.model.describe()
        if key.startswith("lstm:"):
            return self.other_models[key[5:]].model.describe()
        return get_codec(key).library()

    def _export_tables_dialog(self):
        path, _ = QFileDialog.getSaveFileName(self, "Export the tables", "dataset.csv", "CSV (*.csv);;JSON (*.json)")
        if path:
            self._try(lambda: self.export_tables(path), f"Saved the tables to {path}.")

    def _export_plot_dialog(self):
        path, _ = QFileDialog.getSaveFileName(self, "Export the plot", "dataset_rd.png", "PNG (*.png);;SVG (*.svg)")
        if path:
            self._try(lambda: export_plot(self.plot, path), f"Saved the plot to {path}.")

    def _try(self, action, done: str):
        try:
            action()
            self.status.setText(done)
        except ExportError as e:
            self.status.setText(f"Export failed: {e}")


def label(key: str) -> str:
    """What the plot and tables call a curve: the model in use, another model, or a codec."""
    if key == "lstm":
        return "LSTM"
    if key.startswith("lstm:"):
        return f"LSTM {key[5:]}"
    return get_codec(key).label
