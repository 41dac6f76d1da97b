"""Live rate-distortion plot of the current image (pyqtgraph)."""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGraphicsItem

from codec.baselines import get_codec
from codec.metrics import msssim_db

METRICS = {"ms-ssim": "MS-SSIM", "ms-ssim-db": "MS-SSIM (dB)", "psnr": "PSNR (dB)"}
COLORS = {"lstm": (230, 60, 60), "jpeg": (255, 160, 40), "jpeg444": (170, 110, 60),
          "webp": (80, 190, 80), "jpeg2000": (170, 110, 220), "avif": (70, 150, 240)}


def metric_value(sample, metric: str) -> float:
    if metric == "psnr":
        return sample.psnr if math.isfinite(sample.psnr) else 100.0
    if metric == "ms-ssim-db":
        v = msssim_db(sample.ms_ssim)
        return v if math.isfinite(v) else 60.0
    return sample.ms_ssim


class RDPlot(pg.PlotWidget):
    """MS-SSIM (or dB, or PSNR) vs bpp: LSTM points as they arrive, one curve per classical
    codec, the current operating points highlighted and a line at the current bpp.
    Clicking an LSTM point emits iterationClicked(k)."""
    iterationClicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.quality = "ms-ssim"
        self.setBackground((30, 30, 30))
        self.showGrid(x=True, y=True, alpha=0.25)
        self.setLabel("bottom", "bits per pixel (real file bytes)")
        self.addLegend(offset=(-10, -10), labelTextSize="8pt")
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
        self.current = pg.ScatterPlotItem(size=16, pen=pg.mkPen("w", width=2), brush=None, symbol="o")
        self.current.setZValue(20)
        self.addItem(self.current, ignoreBounds=True)
        self._session = None
        self._points = {}
        self.set_metric("ms-ssim")

    def _curve(self, key, name, width=1.5, symbol="s") -> pg.PlotDataItem:
        c = COLORS.get(key, (200, 200, 200))
        item = self.plot([], [], name=name, pen=pg.mkPen(c, width=width), symbol=symbol, symbolSize=7,
                         symbolBrush=c, symbolPen=None)
        self.curves[key] = item
        return item

    def set_metric(self, metric: str):
        self.quality = metric
        self.setLabel("left", METRICS[metric])
        self.refresh()

    def show_session(self, session, codecs: list[str]):
        self._session = session
        self._codecs = codecs
        self._x_top = None
        self.refresh()

    def refresh(self, current_iteration: int | None = None, current_codec: str | None = None):
        """Redraw the curves from the session (new points arrived, or another metric)."""
        s = self._session
        lstm = s.lstm if s is not None else []
        self.lstm_curve.setData([p.bpp for p in lstm], [metric_value(p, self.quality) for p in lstm])
        for key in getattr(self, "_codecs", []):
            pts = s.curves.get(key, []) if s is not None else []
            pts = [p for p in pts if p.bpp <= 3.0]
            if key not in self.curves:
                self._curve(key, get_codec(key).label)
            self.curves[key].setData([p.bpp for p in pts], [metric_value(p, self.quality) for p in pts])
        if s is not None:
            top = max(2.2, s.lstm_bpp(s.codec.cfg.iterations) * 1.1)
            if top != getattr(self, "_x_top", None):  # only when it changes: a range change repaints the axes
                self._x_top = top
                self.setXRange(0, top, padding=0)
        self.enableAutoRange(axis="y")
        self.set_current(current_iteration, current_codec)

    def set_current(self, iteration: int | None = None, codec: str | None = None):
        """Move the operating-point markers and the bpp line (cheap: what a slider move needs)."""
        if iteration is not None:
            self._current = (iteration, codec)
        self._update_current()

    def _update_current(self):
        s = self._session
        k, codec = getattr(self, "_current", (None, None))
        spots = []
        if s is not None and k and k <= len(s.lstm):
            p = s.lstm[k - 1]
            self.bpp_line.setValue(p.bpp)
            self.bpp_line.show()
            spots.append({"pos": (p.bpp, metric_value(p, self.quality)), "pen": pg.mkPen(COLORS["lstm"], width=3)})
            m = s.matches.get((codec, k))
            if m is not None:
                spots.append({"pos": (m.bpp, metric_value(m, self.quality)),
                              "pen": pg.mkPen(COLORS.get(codec, "w"), width=3), "symbol": "s"})
        else:
            self.bpp_line.hide()
        self.current.setData(spots)

    def _clicked(self, item, points, *args):
        if len(points) and self._session is not None:
            x = points[0].pos().x()
            k = min(range(len(self._session.lstm)), key=lambda i: abs(self._session.lstm[i].bpp - x)) + 1
            self.iterationClicked.emit(k)
