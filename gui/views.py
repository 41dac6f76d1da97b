"""Image views: side by side, split (draggable divider), and difference maps.

Every view box is linked to one master, so zoom and pan move all views together, in
every mode. Images are drawn with nearest-neighbour sampling (pyqtgraph's ImageItem does
not smooth), so zoomed-in pixels stay square.
"""
from __future__ import annotations

import textwrap

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from codec.imaging.units import BLOCK

from .state import MODES



def _view_box() -> pg.ViewBox:
    vb = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
    vb.setDefaultPadding(0.0)
    return vb


def _image_item() -> pg.ImageItem:
    return pg.ImageItem(axisOrder="row-major")


def error_sum(original: np.ndarray, recon: np.ndarray, signed: bool) -> np.ndarray:
    """Sum over R, G, B of (recon - original), or of its magnitude: int16, |value| <= 765.
    The mean error is this / 3; integers keep the colouring a table look-up.

    `original` may be given as int16 already (the views keep it so). In-place arithmetic
    and channel adds instead of .sum(axis=2): 0.7 ms instead of 9.6 ms at 768x512."""
    d = recon.astype(np.int16)
    d -= original if original.dtype == np.int16 else original.astype(np.int16)
    if not signed:
        np.abs(d, out=d)
    s = d[..., 0] + d[..., 1]
    s += d[..., 2]
    return s


def error_colours(lut: np.ndarray, gain: float, signed: bool) -> np.ndarray:
    """Colour of every possible error sum: mean |error| x gain on a 0..255 scale (signed:
    centred at 128), through the colour map's 256-entry table."""
    mean = np.arange(-765, 766) / 3.0
    t = 0.5 + 0.5 * mean * gain / 255.0 if signed else np.abs(mean) * gain / 255.0
    return with_alpha(lut[np.clip(np.rint(t * 255.0), 0, 255).astype(np.intp)])


def with_alpha(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 -> RGBA with alpha 255. Qt draws 32-bit pixels 4-8x faster than 24-bit
    RGB888 (measured: 0.22 vs 1.08 ms for a 768x512 image scaled to 700 px), and every
    slider move draws two images."""
    out = np.empty(rgb.shape[:-1] + (4,), np.uint8)
    out[..., :3] = rgb
    out[..., 3] = 255
    return out


class DerivedCache:
    """Arrays derived from arrays (display copies, error maps), keyed by the source's
    identity plus whatever else they depend on: slider moves revisit the same arrays, so
    each is derived once. Entries hold their source, so an id is never reused while its
    entry lives; the cache empties when full (a new image brings new arrays anyway)."""

    def __init__(self, limit: int):
        self.limit = limit
        self._entries: dict = {}

    def get(self, source: np.ndarray, make, *depends_on) -> np.ndarray:
        key = (id(source), *depends_on)
        hit = self._entries.get(key)
        if hit is None or hit[0] is not source:
            if len(self._entries) >= self.limit:
                self._entries.clear()
            hit = (source, make())
            self._entries[key] = hit
        return hit[1]

    def derived_from(self, source: np.ndarray) -> list[np.ndarray]:
        """What is cached for this source (any dependencies)."""
        return [v for src, v in self._entries.values() if src is source]

    def clear(self):
        self._entries.clear()


class Pane(QWidget):
    """A title, a view box showing one image, and a caption with the image's metrics."""

    def __init__(self, title: str):
        super().__init__()
        self.title = QLabel(title)
        self.title.setAlignment(Qt.AlignCenter)
        f = self.title.font()
        f.setBold(True)
        f.setPointSize(f.pointSize() + 1)
        self.title.setFont(f)
        self.view = pg.GraphicsView()
        self.view.setBackground((30, 30, 30))
        self.vb = _view_box()
        self.view.setCentralItem(self.vb)
        self.caption = QLabel("")
        self.caption.setAlignment(Qt.AlignCenter)
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextSelectableByMouse)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(2)
        lay.addWidget(self.title)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.caption)
        self.image = _image_item()
        self.vb.addItem(self.image)
        self.message = pg.TextItem("", color=(230, 230, 230), anchor=(0.5, 0.5), fill=(0, 0, 0, 170))
        self.message.setZValue(10)
        self.message.hide()
        self.vb.addItem(self.message, ignoreBounds=True)
        self.vb.sigRangeChanged.connect(self._place_message)

    def show_message(self, text: str):
        self.message.setText(textwrap.fill(text, 60))  # a long reason stays inside the pane
        self.message.setVisible(bool(text))
        self._place_message()

    def _place_message(self, *_):
        if self.message.isVisible():
            self.message.setPos(self.vb.viewRect().center())

    def image_pixmap(self, image_size):
        """What the view shows of the image (cropped to the image where it is smaller than
        the view), for exports."""
        h, w = image_size
        grab = self.view.grab()
        scene_rect = self.vb.mapViewToScene(QRectF(0, 0, w, h)).boundingRect()
        r = self.view.mapFromScene(scene_rect).boundingRect()
        ratio = grab.devicePixelRatio()
        r = r.intersected(self.view.viewport().rect())
        return grab.copy(int(r.x() * ratio), int(r.y() * ratio), int(r.width() * ratio), int(r.height() * ratio))


def _page(*widgets, stretch=None) -> QWidget:
    page = QWidget()
    lay = QHBoxLayout(page)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(4)
    for i, w in enumerate(widgets):
        lay.addWidget(w, 1 if stretch is None else stretch[i])
    return page


class ComparisonViews(QStackedWidget):
    """The three modes in a stack, all views linked. Emits hovered(x, y) and
    double_clicked(x, y) in image pixels."""
    hovered = Signal(int, int)
    double_clicked = Signal(int, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.original = self.lstm = self.classical = None
        self._original16 = None  # the original as int16, for error maps
        self._dimmed = None  # the original, grey and dimmed, under the bits view's maps
        self.flicker = False
        self.signed = False
        self.gain = 4.0
        self._split_x = None
        self._errors = DerivedCache(64)  # error maps (colour) of reconstructions
        self._rgba = DerivedCache(64)  # RGBA display copies: 16 LSTM + 16 per codec's matches

        # side by side
        self.p_orig, self.p_lstm, self.p_cls = Pane("Original"), Pane("LSTM"), Pane("JPEG")
        self.addWidget(_page(self.p_orig, self.p_lstm, self.p_cls))

        # split: LSTM left of the divider, classical right of it
        self.p_split = Pane("LSTM  ◀ ▶  JPEG")
        self.split_right = _image_item()
        self.p_split.vb.addItem(self.split_right)
        self.divider = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen((255, 220, 0), width=2),
                                       hoverPen=pg.mkPen((255, 255, 255), width=3))
        self.divider.setToolTip("Drag to move the divider ([ \\ ] keys: left, centre, right)")
        self.divider.setZValue(5)
        self.p_split.vb.addItem(self.divider, ignoreBounds=True)
        self.divider.sigPositionChanged.connect(self._divider_moved)
        self.addWidget(_page(self.p_split))

        # difference maps with one shared colour bar
        self.p_dl, self.p_dc = Pane("|LSTM − original|"), Pane("|JPEG − original|")
        self.bar_view = pg.GraphicsLayoutWidget()
        self.bar_view.setBackground((30, 30, 30))
        self.bar_view.setFixedWidth(90)
        self.colorbar = pg.ColorBarItem(values=(0, 255 / self.gain), colorMap=pg.colormap.get("inferno"),
                                        interactive=False, width=18, label="mean |error| (8-bit levels)")
        self._lut = self.colorbar.colorMap().getLookupTable(0.0, 1.0, 256, alpha=False)
        self.bar_view.addItem(self.colorbar)
        self.addWidget(_page(self.p_dl, self.p_dc, self.bar_view, stretch=[1, 1, 0]))

        # where the bits go: per 16x16 block, what the LSTM iteration spent and what it bought
        self.p_bits, self.p_gain = Pane("Bits spent per 16x16 block"), Pane("Error removed per block")
        self.bits_bar_view, self.bits_bar = self._colour_bar("bits per block (this iteration)")
        self.gain_bar_view, self.gain_bar = self._colour_bar("MSE removed (8-bit levels²)")
        self.addWidget(_page(self.p_bits, self.bits_bar_view, self.p_gain, self.gain_bar_view, stretch=[1, 0, 1, 0]))
        self.block_maps: tuple[np.ndarray, np.ndarray] | None = None  # (bits spent, MSE removed)
        self._heat_lut = self.bits_bar.colorMap().getLookupTable(0.0, 1.0, 256, alpha=False)

        for p in self.panes():
            p.view.scene().sigMouseMoved.connect(lambda pos, p=p: self._mouse_moved(p, pos))
            p.view.scene().sigMouseClicked.connect(lambda ev, p=p: self._mouse_clicked(p, ev))
        # Views are linked within a mode; switching modes hands the visible rectangle over.
        # (Linking hidden, zero-sized views across modes fights the aspect lock.)
        for master, others in ((self.p_orig, (self.p_lstm, self.p_cls)), (self.p_dl, (self.p_dc,)),
                               (self.p_bits, (self.p_gain,))):
            for p in others:
                p.vb.setXLink(master.vb)
                p.vb.setYLink(master.vb)
        self.mode = "side"

    def panes(self) -> list[Pane]:
        return [self.p_orig, self.p_lstm, self.p_cls, self.p_split, self.p_dl, self.p_dc, self.p_bits, self.p_gain]

    def visible_panes(self) -> list[Pane]:
        return {"side": [self.p_orig, self.p_lstm, self.p_cls], "split": [self.p_split],
                "diff": [self.p_dl, self.p_dc], "bits": [self.p_bits, self.p_gain]}[self.mode]

    def visible_bars(self) -> list:
        """The colour bar after each visible pane (None where there is none), for exports."""
        return {"diff": [None, self.bar_view], "bits": [self.bits_bar_view, self.gain_bar_view]}.get(
            self.mode, [None] * len(self.visible_panes()))

    @staticmethod
    def _colour_bar(label: str):
        view = pg.GraphicsLayoutWidget()
        view.setBackground((30, 30, 30))
        view.setFixedWidth(90)
        bar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("inferno"), interactive=False, width=18,
                              label=label)
        view.addItem(bar)
        return view, bar

    # -- where the bits go ----------------------------------------------------------
    def set_block_maps(self, maps: tuple[np.ndarray, np.ndarray] | None, message: str = "", coding: str = ""):
        """Show an iteration's per-block bits and removed error (None: nothing yet, with
        `message` over the panes); `coding`: how the iteration is stored, in words."""
        self.block_maps = maps
        for pane in (self.p_bits, self.p_gain):
            pane.show_message(message if maps is None else "")
        if maps is not None:
            spent, removed = maps
            if spent.max() - spent.min() < 1e-9:  # the entropy coder kept this iteration raw
                self.p_bits.caption.setText(f"every block costs {spent.max():.0f} bits: this iteration is stored "
                                            "uncompressed (no coding mode made it smaller)")
            else:
                self.p_bits.caption.setText(f"{spent.sum():,.0f} bits in all · {spent.mean():.1f} per block on "
                                            f"average · {spent.max():.0f} at most" + (f" · {coding}" if coding else ""))
            worse = int((removed < 0).sum())
            self.p_gain.caption.setText(f"{np.mean(removed > 0) * 100:.0f}% of the blocks improved"
                                        + (f" · {worse} got worse (shown black)" if worse else ""))
        else:
            self.p_bits.caption.setText("")
            self.p_gain.caption.setText("")
        if self.mode == "bits":
            self._refresh()

    def _heat(self, values: np.ndarray, low: float, high: float) -> np.ndarray:
        """Block values as colour (low..high on the colour map) over the dimmed image."""
        index = np.clip((values - low) / max(high - low, 1e-9) * 255, 0, 255).astype(np.uint8)
        colour = np.take(self._heat_lut, index, axis=0)  # (bh, bw, 3)
        h, w = self.original.shape[:2]
        colour = colour.repeat(BLOCK, 0).repeat(BLOCK, 1)[:h, :w].astype(np.float32)
        if self._dimmed is None:  # the same for every iteration's maps
            self._dimmed = 0.25 * self.original.mean(axis=2, dtype=np.float32)[..., None]
        return (self._dimmed + 0.75 * colour).astype(np.uint8)

    def _refresh_blocks(self):
        if self.original is None or self.block_maps is None:
            self.p_bits.image.clear()
            self.p_gain.image.clear()
            return
        spent, removed = self.block_maps
        # bits: from the fewest to the most any block got (most blocks cost 20-40 of 32 raw
        # bits, so a scale from 0 would paint them all alike); error: 0 to the 99th
        # percentile (a few outliers would wash it out)
        low, high = float(spent.min()), float(spent.max())
        if high - low < 1e-9:  # all alike (a raw iteration): show them at the top of a 0-based scale
            low = 0.0
        top_gain = max(float(np.percentile(removed, 99)), 1e-3)
        self.bits_bar.setLevels((low, max(high, low + 1e-3)))
        self.gain_bar.setLevels((0, top_gain))
        self.p_bits.image.setImage(self._heat(spent, low, high), autoLevels=False, levels=None)
        self.p_gain.image.setImage(self._heat(removed, 0.0, top_gain), autoLevels=False, levels=None)

    # -- mode -----------------------------------------------------------------------
    def set_mode(self, mode: str):
        old = self.current_view_box()
        rect = old.viewRect()
        self.mode = mode
        self.setCurrentIndex(MODES.index(mode))
        self._refresh()
        if self.original is None or any(old.autoRangeEnabled()) or self._shows_whole_image(rect):
            # the user was looking at the whole image (or the pane had none yet: a difference
            # pane before the first reconstruction): keep doing so
            self.fit()
        else:
            self.current_view_box().setRange(rect, padding=0)  # keep the zoomed-in region

    def set_codec_label(self, label: str):
        self._codec_label = label
        self.p_cls.title.setText(label)
        self.p_split.title.setText(f"LSTM  ◀ ▶  {label}")
        self._diff_titles()

    def _diff_titles(self):
        label = getattr(self, "_codec_label", "JPEG")
        self.p_dl.title.setText("LSTM − original" if self.signed else "|LSTM − original|")
        self.p_dc.title.setText(f"{label} − original" if self.signed else f"|{label} − original|")

    # -- content --------------------------------------------------------------------
    def set_original(self, pixels: np.ndarray | None, fit: bool = True):
        self.original = pixels
        self.block_maps = None
        self._dimmed = None  # the original, grey and dimmed, under the bits view's maps
        self._original16 = None
        self._rgba.clear()  # the last image's display copies
        self.lstm = self.classical = None
        self._split_x = None
        self._refresh()
        if fit:
            self.fit()

    def set_lstm(self, pixels: np.ndarray | None, caption: str = ""):
        self.p_lstm.caption.setText(caption)
        self.p_dl.caption.setText(caption)
        if pixels is not self.lstm:
            self.lstm = pixels
            self._refresh(original=False, classical=False)

    def set_classical(self, pixels: np.ndarray | None, caption: str = ""):
        self.p_cls.caption.setText(caption)
        self.p_dc.caption.setText(caption)
        if pixels is not self.classical:
            self.classical = pixels
            self._refresh(original=False, lstm=False)

    def set_split_caption(self, text: str):
        self.p_split.caption.setText(text)

    def set_original_caption(self, text: str):
        self.p_orig.caption.setText(text)

    def set_messages(self, lstm: str = "", classical: str = "", original: str = ""):
        """Text over the panes (what is being computed, or why there is nothing to show)."""
        self.p_orig.show_message(original)
        self.p_split.show_message(original)
        self.p_lstm.show_message(lstm)
        self.p_dl.show_message(lstm)
        self.p_cls.show_message(classical)
        self.p_dc.show_message(classical)

    def set_flicker(self, on: bool):
        """A/B: show the original in place of the reconstructions while on."""
        self.flicker = on
        self._refresh()

    def set_diff_options(self, gain: float | None = None, signed: bool | None = None):
        if gain is not None:
            self.gain = gain
        if signed is not None:
            self.signed = signed
            self._diff_titles()
            cmap = pg.colormap.get("CET-D1" if signed else "inferno")
            self.colorbar.setColorMap(cmap)
            self._lut = cmap.getLookupTable(0.0, 1.0, 256, alpha=False)
        top = 255.0 / self.gain
        self.colorbar.setLevels((-top, top) if self.signed else (0.0, top))
        self._refresh()

    def _set(self, item: pg.ImageItem, pixels):
        if pixels is None:
            item.clear()
        else:
            item.setImage(self._display(pixels), autoLevels=False, levels=None)  # uint8 as is: no rescale

    def _display(self, pixels: np.ndarray) -> np.ndarray:
        """The RGBA copy of an RGB image, made once: slider moves revisit the same images."""
        return self._rgba.get(pixels, lambda: with_alpha(pixels))

    def _error(self, rec: np.ndarray) -> np.ndarray:
        """The error map of a reconstruction as colour (uint8 RGB) on the colour bar's scale.

        Coloured here by table look-up rather than by ImageItem's LUT at every paint, and
        cached: slider moves revisit the same images, and each redraw must fit in a frame."""
        def make():
            table = error_colours(self._lut, self.gain, self.signed)
            if self._original16 is None:
                self._original16 = self.original.astype(np.int16)
            index = error_sum(self._original16, rec, self.signed)
            index += 765
            return np.take(table, index, axis=0)  # 4x faster than table[index]

        return self._errors.get(rec, make, id(self.original), self.signed, self.gain)

    def prepare(self, rec: np.ndarray):
        """Make a new reconstruction's display copy now (as it arrives), not on the slider
        move that first shows it: 2 ms of a 16 ms frame (measured at 768x512)."""
        if self.original is not None and rec.shape == self.original.shape:
            self._display(rec)

    def warm(self, recs):
        """Compute these reconstructions' error maps ahead of need (the window passes the
        neighbouring iterations'), so stepping onto them in the difference view only looks up."""
        if self.mode == "diff" and self.original is not None and not self.flicker:
            for rec in recs:
                self._error(rec)

    def _refresh(self, original=True, lstm=True, classical=True):
        """Put the current images into the current mode's views (only the sides asked for)."""
        o = self.original
        rec_l = o if self.flicker else self.lstm
        rec_c = o if self.flicker else self.classical
        if original:
            self._set(self.p_orig.image, o)
        if self.mode == "side":
            if lstm:
                self._set(self.p_lstm.image, rec_l)
            if classical:
                self._set(self.p_cls.image, rec_c)
        elif self.mode == "bits":
            self._refresh_blocks()
        elif self.mode == "split":
            if lstm or original:
                self._set(self.p_split.image, rec_l if rec_l is not None else o)
            if classical or original:
                self._update_split(rec_c)
        else:
            for pane, rec, want in ((self.p_dl, self.lstm, lstm), (self.p_dc, self.classical, classical)):
                if not want:
                    continue
                if o is None or rec is None:
                    pane.image.clear()
                elif self.flicker:  # the original against itself: zero error everywhere
                    pane.image.setImage(self._error(o), autoLevels=False, levels=None)
                else:
                    pane.image.setImage(self._error(rec), autoLevels=False, levels=None)

    # -- split ----------------------------------------------------------------------
    def set_split_position(self, fraction: float):
        if self.original is not None:
            self.divider.setValue(fraction * self.original.shape[1])

    def _divider_moved(self):
        self._update_split(self.original if self.flicker else self.classical)

    def _update_split(self, cls):
        o = self.original
        if o is None:
            self.split_right.clear()
            return
        w = o.shape[1]
        if self._split_x is None:
            self._split_x = w / 2
            self.divider.blockSignals(True)
            self.divider.setValue(self._split_x)
            self.divider.blockSignals(False)
        x = int(round(min(max(self.divider.value(), 0), w)))
        self._split_x = x
        if cls is None or x >= w:
            self.split_right.clear()
            return
        self.split_right.setImage(self._display(cls)[:, x:], autoLevels=False, levels=None)
        self.split_right.setRect(QRectF(x, 0, w - x, o.shape[0]))

    # -- zoom -----------------------------------------------------------------------
    def fit(self):
        """Fit the image and keep fitting on resize until the user zooms or pans."""
        vb = self.current_view_box()
        vb.autoRange(padding=0)  # now, if the pane has an image yet
        # autoRange() ends in setRange(), which switches auto-range off; on again, so the
        # view refits when the window resizes or the pane's first image arrives (a
        # difference pane has none until the reconstructions do). A pan or zoom turns it off.
        vb.enableAutoRange()

    def _shows_whole_image(self, rect: QRectF) -> bool:
        h, w = self.original.shape[:2]
        return rect.contains(QRectF(0.5, 0.5, w - 1, h - 1))

    def one_to_one(self):
        """One image pixel per screen pixel, centred where the view is now."""
        vb = self.current_view_box()
        if self.original is None or vb.width() <= 0:
            return
        c = vb.viewRect().center()
        ratio = self.devicePixelRatioF() or 1.0
        w, h = vb.width() * ratio, vb.height() * ratio
        vb.setRange(QRectF(c.x() - w / 2, c.y() - h / 2, w, h), padding=0)

    def zoom(self, factor: float):
        self.current_view_box().scaleBy((1 / factor, 1 / factor))

    def current_view_box(self) -> pg.ViewBox:
        return {"side": self.p_orig.vb, "split": self.p_split.vb, "diff": self.p_dl.vb, "bits": self.p_bits.vb}[self.mode]

    def _pixel(self, pane: Pane, pos: QPointF) -> tuple[int, int] | None:
        if self.original is None or not pane.isVisible():
            return None
        pt = pane.vb.mapSceneToView(pos)
        x, y = int(np.floor(pt.x())), int(np.floor(pt.y()))
        h, w = self.original.shape[:2]
        return (x, y) if 0 <= x < w and 0 <= y < h else None

    def _mouse_moved(self, pane: Pane, pos: QPointF):
        xy = self._pixel(pane, pos)
        if xy is not None:
            self.hovered.emit(*xy)

    def _mouse_clicked(self, pane: Pane, event):
        xy = self._pixel(pane, event.scenePos()) if event.double() else None
        if xy is not None:
            self.double_clicked.emit(*xy)
