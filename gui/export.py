"""Exports: the comparison as a PNG (views with their labels and metrics, plus the plot),
the plot alone (PNG/SVG), the RD data (CSV/JSON), the .lstm file and reconstructions."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from PySide6.QtCore import QPoint, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter

from codec.base.atomic import atomic_path, write_bytes, write_text
from codec.classical import get_codec
from codec.rd.results import csv_text
from codec.rd.session import classical_file


class ExportError(Exception):
    """A sentence for the user: what failed and what to do."""


def panes_image(panes, image_size, bars=None, background=QColor(30, 30, 30)) -> QImage:
    """A row of panes as the user sees them (the visible part of each image, same zoom),
    each with its title above and its caption (codec, bytes, bpp, PSNR, MS-SSIM) below.
    `bars`: a widget (a colour bar) or None per pane, drawn right after it, scaled to the
    images' height."""
    pixmaps = [p.image_pixmap(image_size) for p in panes]
    ph = max(px.height() / px.devicePixelRatio() for px in pixmaps)
    pw = [px.width() / px.devicePixelRatio() for px in pixmaps]
    bar_images = [b.grab().toImage() if b is not None else None for b in (bars or [None] * len(panes))]
    bar_w = [int(b.width() * ph / max(1, b.height())) if b is not None else 0 for b in bar_images]
    font = QFont()
    font.setPointSize(10)
    bold = QFont(font)
    bold.setBold(True)
    title_h, cap_h, gap = 26, 40, 10
    width = int(sum(pw) + gap * (len(panes) + 1) + sum(w + gap for w in bar_w if w))
    out = QImage(max(width, 200), int(title_h + ph + cap_h), QImage.Format_RGB32)
    out.fill(background)
    painter = QPainter(out)
    painter.setRenderHint(QPainter.SmoothPixmapTransform, False)
    x = gap
    for pane, px, w, bar, bw in zip(panes, pixmaps, pw, bar_images, bar_w):
        painter.setPen(QColor(235, 235, 235))
        painter.setFont(bold)
        painter.drawText(QRectF(x, 0, w, title_h), Qt.AlignCenter, pane.title.text())
        painter.drawPixmap(QRectF(x, title_h, w, px.height() / px.devicePixelRatio()), px, QRectF(px.rect()))
        painter.setFont(font)
        painter.setPen(QColor(210, 210, 210))
        painter.drawText(QRectF(x, title_h + ph + 2, w, cap_h - 2), Qt.AlignHCenter | Qt.AlignTop | Qt.TextWordWrap,
                         pane.caption.text())
        x += w + gap
        if bar is not None:
            painter.drawImage(QRectF(x, title_h, bw, ph), bar)
            x += bw + gap
    painter.end()
    return out


def compose(parts: list[QImage], title: str, background=QColor(30, 30, 30)) -> QImage:
    """Stack images vertically under a title line."""
    pad, title_h = 8, 28
    width = max(p.width() for p in parts) + 2 * pad
    height = title_h + sum(p.height() + pad for p in parts) + pad
    out = QImage(width, height, QImage.Format_RGB32)
    out.fill(background)
    painter = QPainter(out)
    painter.setPen(QColor(235, 235, 235))
    f = QFont()
    f.setPointSize(11)
    f.setBold(True)
    painter.setFont(f)
    painter.drawText(pad, 0, width - 2 * pad, title_h, Qt.AlignVCenter | Qt.AlignLeft, title)
    y = title_h
    for p in parts:
        painter.drawImage(QPoint((width - p.width()) // 2, y), p)
        y += p.height() + pad
    painter.end()
    return out


def render_plot(plot_widget, width: int, height: int) -> QImage:
    """The plot laid out and drawn at the given size (pyqtgraph's exporter re-lays out the
    plot for the target size, so text stays legible), whatever its size on screen."""
    import pyqtgraph.exporters as ex
    exporter = ex.ImageExporter(plot_widget.getPlotItem())
    exporter.parameters()["width"] = width
    exporter.parameters()["height"] = height
    exporter.parameters()["antialias"] = True
    exporter.parameters()["background"] = QColor(30, 30, 30)
    return exporter.export(toBytes=True)


def save_image(img: QImage, path) -> None:
    path = Path(path)
    if not path.parent.is_dir():
        raise ExportError(f"the folder {path.parent} does not exist; choose another place.")
    try:
        with atomic_path(path) as tmp:
            if not img.save(str(tmp)):
                raise OSError("Qt could not encode the image")
    except OSError:
        raise ExportError(f"could not write {path}; check that the folder is writable and the name ends in .png.")


def export_plot(plot_widget, path) -> None:
    import pyqtgraph.exporters as ex
    path = Path(path)
    exporter = ex.SVGExporter(plot_widget.getPlotItem()) if path.suffix.lower() == ".svg" else \
        ex.ImageExporter(plot_widget.getPlotItem())
    if isinstance(exporter, ex.ImageExporter):
        exporter.parameters()["width"] = max(800, int(plot_widget.width()))
    try:
        with atomic_path(path) as tmp:
            exporter.export(str(tmp))
            if not tmp.stat().st_size:
                raise ValueError("nothing was written")
    except Exception as e:  # pyqtgraph raises plain Exceptions for bad paths/formats
        raise ExportError(f"could not export the plot to {path} ({e}); use a .png or .svg name.") from None


def export_rd(session, path) -> None:
    """CompressAI-shaped JSON (a list, one entry per codec) or a flat CSV (codec/rd/results.py's
    layout, as `lstm-codec eval` writes per_image.csv)."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".csv":
            points = [*session.lstm, *(p for c in session.curves.values() for p in c)]
            write_text(path, csv_text([dataclasses.replace(p, image=session.name) for p in points]))
        else:
            write_text(path, json.dumps(session.rd_results(), indent=2))
    except OSError as e:
        raise ExportError(f"could not write {path} ({e.strerror}); choose another place.") from None


def reconstruction_files(session, iteration: int, codec: str, folder) -> dict[Path, bytes]:
    """What "Save files" writes, by path: the LSTM file (all iterations), the LSTM and
    classical reconstructions as PNG, and the classical codec's real file."""
    import io

    from PIL import Image

    def png(pixels) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, "PNG")
        return buf.getvalue()

    folder = Path(folder)
    stem = Path(session.name).stem
    files = {folder / f"{stem}.lstm": session.lstm_file(),
             folder / f"{stem}_lstm_{iteration}it.png": png(session.lstm[iteration - 1].reconstruction)}
    cls = session.matches.get((codec, iteration))
    if cls is not None:
        c = get_codec(codec)
        files[folder / f"{stem}_{codec}_{cls.bpp:.3f}bpp.png"] = png(cls.reconstruction)
        files[folder / f"{stem}_{codec}_{cls.bpp:.3f}bpp{c.suffix}"] = classical_file(codec, session.original,
                                                                                   cls.setting)
    return files


def write_files(files: dict[Path, bytes]) -> None:
    try:
        for path, data in files.items():
            write_bytes(path, data)
    except OSError as e:
        raise ExportError(f"could not write {e.filename} ({e.strerror}); choose another folder.") from None
