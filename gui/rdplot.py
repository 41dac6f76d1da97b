"""Live rate-distortion plot of the current image (pyqtgraph)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGraphicsItem

from codec.classical import get_codec
from codec.quality import registry
from codec.rd.points import RDPoint, curve_of
from codec.rd.verdict import VERDICT_SCALES, disagreement, ending, verdicts

COLORS = {"lstm": (230, 60, 60), "jpeg": (255, 160, 40), "jpeg444": (170, 110, 60),
          "webp": (80, 190, 80), "jpeg2000": (170, 110, 220), "avif": (70, 150, 240),
          "heic": (230, 110, 180), "jxl": (60, 200, 200)}
MODEL_COLORS = [(255, 120, 120), (250, 210, 90), (200, 140, 255), (140, 220, 140)]  # other LSTM models, dashed


def metric_value(sample, scale: str) -> float:
    """The plotted value on a quality scale (NaN: not computed yet); an identical picture's
    infinite PSNR or MS-SSIM dB is drawn at 100, above every real point."""
    v = sample.value(scale)
    return 100.0 if v == math.inf else v


@dataclass
class Curves:
    """What the plot draws for one image: the LSTM's points so far, each classical codec's
    curve (and why one failed), the other models' curves, and the x range."""
    lstm: list[RDPoint] = field(default_factory=list)
    lstm_complete: bool = False
    classical: dict[str, list[RDPoint]] = field(default_factory=dict)  # codec key -> points
    failures: dict[str, str] = field(default_factory=dict)  # codec key -> why it failed here
    models: dict[str, list[RDPoint]] = field(default_factory=dict)  # other models' points, by id
    x_top: float = 2.2

    @classmethod
    def of(cls, session) -> "Curves":
        """The curves of an ImageSession (codec/rd/session.py) as they stand."""
        if session is None:
            return cls()
        return cls(list(session.lstm), session.lstm_complete, dict(session.curves), dict(session.failures),
                   dict(session.model_curves),
                   session.plotted_bpp())


class RDPlot(pg.PlotWidget):
    """MS-SSIM (or dB, or PSNR) vs bpp: LSTM points as they arrive, one curve per classical
    codec, the current operating points highlighted and a line at the current bpp.
    Clicking an LSTM point emits iterationClicked(k)."""
    iterationClicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.quality = registry.DEFAULT  # the plotted scale (codec/quality/registry.py)
        self.setBackground((30, 30, 30))
        self.showGrid(x=True, y=True, alpha=0.25)
        self.setLabel("bottom", "bits per pixel (real file bytes)")
        # bottom right, where the curves never go (quality rises with bpp); two columns keep
        # it below the curves' top-right plateau in a short plot
        self.legend = self.addLegend(offset=(-10, -10), labelTextSize="8pt", colCount=2)
        self.getPlotItem().setMenuEnabled(False)
        self.getAxis("left").enableAutoSIPrefix(False)
        # The axes also draw the grid across the whole plot; cache them as pixmaps so moving
        # the markers (every slider move) does not replay the grid (8 ms per axis, measured).
        for name in ("left", "bottom", "top", "right"):
            self.getAxis(name).setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.lstm_curve = self._curve("lstm", "LSTM", width=2, symbol="o")
        self.lstm_curve.sigPointsClicked.connect(self._clicked)
        self.bpp_line = pg.InfiniteLine(angle=90, pen=pg.mkPen((200, 200, 200), style=pg.QtCore.Qt.DashLine))
        self.addItem(self.bpp_line, ignoreBounds=True)
        # One fixed-style marker per side: moving a point is then a plain setData(x, y), about
        # 3x cheaper than restyling per-spot dicts on every slider move.
        self.current_lstm = self._marker(COLORS["lstm"], "o")
        self.current_classical = self._marker("w", "s")
        self._classical_key = None
        self._data = Curves()
        self._codecs: list[str] = []
        self._current: tuple = (None, None, None, None)  # iteration, codec, LSTM point, classical point
        self._x_top = None
        self._title = None
        self._trained_for = ""  # the loss the model in use was trained on, in words (codec/rd/verdict.py)
        self._model_names: dict[str, str] = {}  # other LSTM models drawn: model id -> legend name
        self.set_metric(registry.DEFAULT)

    def _marker(self, color, symbol) -> pg.ScatterPlotItem:
        m = pg.ScatterPlotItem(size=16, pen=pg.mkPen(color, width=3), brush=None, symbol=symbol)
        m.setZValue(20)
        self.addItem(m, ignoreBounds=True)
        return m

    def _curve(self, key, name, width=1.5, symbol="s") -> pg.PlotDataItem:
        c = COLORS.get(key, (200, 200, 200))
        item = self.plot([], [], name=name, pen=pg.mkPen(c, width=width), symbol=symbol, symbolSize=7,
                         symbolBrush=c, symbolPen=None)
        self.curves[key] = item
        return item

    def _xy(self, samples) -> tuple[list[float], list[float]]:
        """bpp and the plotted metric of the samples that have it (SSIMULACRA2 comes later)."""
        pts = [(p.bpp, metric_value(p, self.quality)) for p in samples]
        pts = [(x, y) for x, y in pts if not math.isnan(y)]
        return [x for x, _ in pts], [y for _, y in pts]

    def set_model_names(self, names: dict[str, str], in_use: str = "LSTM"):
        """Other LSTM models whose curves to draw (Figure 5 live), by model id; the others'
        curves are removed. `in_use`: the legend name of the model in use's curve."""
        self._model_names = dict(names)
        label = self.legend.getLabel(self.lstm_curve)
        if label is not None:
            label.setText(in_use)
        for key in [k for k in self.curves if k.startswith("lstm:") and k[5:] not in names]:
            self.removeItem(self.curves.pop(key))
        self._draw()

    def _model_curve(self, mid: str) -> pg.PlotDataItem:
        key = "lstm:" + mid
        if key not in self.curves:
            colour = MODEL_COLORS[len([k for k in self.curves if k.startswith("lstm:")]) % len(MODEL_COLORS)]
            item = self.plot([], [], name=self._model_names[mid], symbol="o", symbolSize=5, symbolBrush=colour,
                             symbolPen=None, pen=pg.mkPen(colour, width=1.5, style=pg.QtCore.Qt.DashLine))
            self.curves[key] = item
        return self.curves[key]

    def set_metric(self, metric: str):
        self.quality = metric
        self.setLabel("left", registry.scale(metric).label)
        self._draw()

    def set_trained_for(self, text: str):
        """What the model in use was trained for: the headline names it beside the verdicts."""
        self._trained_for = text
        self._show_bd_rate()

    def set_codecs(self, codecs: list[str]):
        """The classical codecs that have a curve (in the legend even before they arrive)."""
        self._codecs = list(codecs)
        self._draw()

    def set_curves(self, data: Curves):
        """Draw these curves (new points arrived, or another image)."""
        self._data = data
        self._draw()

    def _draw(self):
        d = self._data
        self.lstm_curve.setData(*self._xy(d.lstm))
        for key in self._codecs:
            pts = [p for p in d.classical.get(key, []) if p.bpp <= 3.0]
            if key not in self.curves:
                self._curve(key, get_codec(key).label)
            self.curves[key].setData(*self._xy(pts))
            label = self.legend.getLabel(self.curves[key]) if self.legend is not None else None
            text = get_codec(key).label + (" — failed" if key in d.failures else "")
            if label is not None and label.text != text:  # a codec that failed here says so; a new text relays the legend out
                label.setText(text)
        for mid in self._model_names:
            self._model_curve(mid).setData(*self._xy(d.models.get(mid, [])))
        if d.x_top != self._x_top:  # only when it changes: a range change repaints the axes
            self._x_top = d.x_top
            self.setXRange(0, d.x_top, padding=0)
        self.enableAutoRange(axis="y")
        self._update_current()
        self._show_bd_rate()

    def _show_bd_rate(self):
        """This image's verdict against the codec on screen, in the title: the BD-rate on the
        plotted metric's BD scale (MS-SSIM in dB for both MS-SSIM views: the number papers
        quote), then on the other verdict metrics measured (codec/rd/verdict.py: SSIMULACRA2 and
        PSNR, which the models were not trained for), where a curve ends short, and whether the
        metrics disagree."""
        d, codec = self._data, self._current[1]
        text = ""
        if d.lstm_complete and codec in d.classical:
            label = get_codec(codec).label
            anchor, lstm = curve_of(d.classical[codec]), curve_of(d.lstm)
            plotted = registry.scale(self.quality).metric.bd_scale
            scales = [plotted, *(v for v in VERDICT_SCALES if v != plotted)]
            found = verdicts(anchor, lstm, scales=scales)
            first = found[0] if found and found[0].scale == plotted else None
            if first is None:
                text = ""
            elif math.isnan(first.bd):
                text = f"BD-rate vs {label}: undefined (the curves do not overlap)"
            else:
                text = (f"this image: the LSTM needs {abs(first.bd):.1f}% {'more' if first.bd > 0 else 'fewer'} bits "
                        f"than {label} for the same quality (BD-rate {first.bd:+.1f}%, {first.label})")
            others = [self._short(v, label) for v in found if v is not first]
            split = disagreement(found, "the LSTM", label)
            trained = [f"trained for {self._trained_for.split(' (')[0]}"] if self._trained_for else []
            if text and (others or split):
                text += "<br>" + "<br>".join(_lines(trained + others + (["the metrics disagree in sign"] if split else [])))
        if text != self._title:  # a title change relays the plot out: only on change
            self._title = text
            self.setTitle(text or None, color="#cccccc", size="9pt")
            if text:  # pyqtgraph gives a title 30 pixels, two lines: as many as it has
                item = self.plotItem
                height = max(30.0, item.titleLabel.item.boundingRect().height())
                item.titleLabel.setMaximumHeight(height)
                item.layout.setRowFixedHeight(0, height)

    @staticmethod
    def _short(v, label: str) -> str:
        if math.isnan(v.bd):
            return f"{v.label}: no overlap"
        end = ending(v, "the LSTM", label)
        return f"{v.label} {v.bd:+.1f}%" + (f" ({end})" if end else "")

    def set_current(self, iteration: int | None, codec: str | None, lstm: RDPoint | None = None,
                    classical: RDPoint | None = None):
        """Move the operating-point markers and the bpp line to these points (cheap: what a
        slider move needs)."""
        old = self._current[1]
        self._current = (iteration, codec, lstm, classical)
        self._update_current()
        if codec != old:
            self._show_bd_rate()

    def _update_current(self):
        _, codec, p, m = self._current
        if p is not None:
            self.bpp_line.setValue(p.bpp)
            self.bpp_line.show()
            self.current_lstm.setData(*self._xy([p]))
        else:
            self.bpp_line.hide()
            self.current_lstm.setData([], [])
        if m is not None:
            if codec != self._classical_key:
                self._classical_key = codec
                self.current_classical.setPen(pg.mkPen(COLORS.get(codec, "w"), width=3))
            self.current_classical.setData(*self._xy([m]))
        else:
            self.current_classical.setData([], [])

    def _clicked(self, item, points, *args):
        lstm = self._data.lstm
        if len(points) and lstm:
            x = points[0].pos().x()
            k = min(range(len(lstm)), key=lambda i: abs(lstm[i].bpp - x)) + 1
            self.iterationClicked.emit(k)


TITLE_LINE = 120  # characters: the title's second line fits a plot about 850 pixels wide


def _lines(parts: list[str], width: int = TITLE_LINE) -> list[str]:
    """Parts joined with " · " into lines of at most `width` characters (a part longer than
    that gets a line of its own): a long verdict wraps instead of running off the plot."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return lines
