"""The observer's window of a study (codec/study/): the original in the middle, two candidates
beside it, "which is closer to the original?"

Keys: Left / Right arrow answer; holding A (L) shows the original in place of the left (right)
candidate; F turns on the flicker mode, where each candidate alternates with the original at the
study's rate, zoomed (AIC-3's boosted comparison), on the crop's centre. Pixels are shown 1:1 on
the screen (device pixels, whatever the display scaling). Codec names and bitrates are never
shown. Each answer is on disk before the next trial appears; closing and reopening continues.
"""
from __future__ import annotations

import time

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from codec.imaging.imageio import load_rgb
from codec.study.folder import Study, answered, append_answer
from codec.study.trials import ORIGINAL, Trial, stimulus_file, trials_for

KEYS_HELP = ("← / → : the closer one     hold A / L : the original in place of the left / right one     "
             "F : flicker on / off")


class StudyWindow(QWidget):
    finished = Signal()

    def __init__(self, study: Study, observer: str, parent=None):
        super().__init__(parent, Qt.Window)
        self.study, self.observer = study, observer
        self.trials = trials_for(study, observer)
        self.position = answered(study, observer)  # the first trial not on disk
        self.flicker = False
        self._held: set[str] = set()        # "left" / "right": showing the original in place
        self._phase = False                 # flicker: showing the original now
        self._shown_at = 0.0
        self._pixmaps: dict[tuple[str, bool], QPixmap] = {}  # (stimulus file, zoomed): made once, not per flicker phase
        self._pixmaps_image = ""            # the image they are of
        self.setWindowTitle("lstm-compare study")
        self.setStyleSheet("background: #262626; color: #dddddd;")
        self.question = QLabel(study.question)
        self.question.setAlignment(Qt.AlignCenter)
        self.question.setStyleSheet("font-size: 16pt;")
        self.panels = {side: QLabel() for side in ("left", "original", "right")}
        row = QHBoxLayout()
        for side in ("left", "original", "right"):
            col = QVBoxLayout()
            self.panels[side].setAlignment(Qt.AlignCenter)
            col.addWidget(self.panels[side], 1)
            caption = QLabel({"left": "←", "original": "original", "right": "→"}[side])
            caption.setAlignment(Qt.AlignCenter)
            col.addWidget(caption)
            row.addLayout(col)
        self.progress = QLabel()
        self.progress.setAlignment(Qt.AlignCenter)
        keys = QLabel(KEYS_HELP)
        keys.setAlignment(Qt.AlignCenter)
        lay = QVBoxLayout(self)
        lay.addWidget(self.question)
        lay.addLayout(row, 1)
        lay.addWidget(self.progress)
        lay.addWidget(keys)
        self._timer = QTimer(self)
        self._timer.setInterval(int(round(1000 / study.flicker_hz)))
        self._timer.timeout.connect(self._flip)
        self.setFocusPolicy(Qt.StrongFocus)
        self._show()

    # -- what is on screen ----------------------------------------------------------
    @property
    def trial(self) -> Trial | None:
        return self.trials[self.position] if self.position < len(self.trials) else None

    def _shown(self, image: str, name: str) -> QPixmap:
        """A stimulus as shown: 1:1 in device pixels; in flicker mode the crop's centre, zoomed
        (Lanczos)."""
        path = stimulus_file(self.study, image, name)
        zoomed = self.flicker and self.study.flicker_zoom > 1
        if (path, zoomed) not in self._pixmaps:
            pixels = load_rgb(self.study.path(path)).pixels
            if zoomed:
                z = self.study.flicker_zoom
                h, w = pixels.shape[:2]
                y, x = (h - h // z) // 2, (w - w // z) // 2
                part = Image.fromarray(np.ascontiguousarray(pixels[y:y + h // z, x:x + w // z]))
                pixels = np.asarray(part.resize((part.width * z, part.height * z), Image.LANCZOS))
            pixels = np.ascontiguousarray(pixels)
            img = QImage(pixels.data, pixels.shape[1], pixels.shape[0], pixels.strides[0], QImage.Format_RGB888)
            pm = QPixmap.fromImage(img.copy())
            pm.setDevicePixelRatio(self.devicePixelRatioF())
            self._pixmaps[path, zoomed] = pm
        return self._pixmaps[path, zoomed]

    def _show(self):
        t = self.trial
        if t is None:
            self._timer.stop()
            for p in self.panels.values():
                p.clear()
            self.question.setText("Done: thank you. Your answers are saved; you may close this window.")
            self.progress.setText(f"{len(self.trials)} of {len(self.trials)} trials answered")
            self.finished.emit()
            return
        if t.image != self._pixmaps_image:  # keep one image's stimuli in memory
            self._pixmaps, self._pixmaps_image = {}, t.image
        original = self._shown(t.image, ORIGINAL)
        self.panels["original"].setPixmap(original)
        for side, name in (("left", t.left), ("right", t.right)):
            showing_original = side in self._held or (self.flicker and self._phase)
            self.panels[side].setPixmap(original if showing_original else self._shown(t.image, name))
        flicker = (f" · flicker on: {self.study.flicker_hz:g} Hz, zoom ×{self.study.flicker_zoom}, the centre"
                   if self.flicker else "")
        self.progress.setText(f"trial {t.index + 1} of {len(self.trials)}{flicker}")
        self.setWindowTitle(f"lstm-compare study — trial {t.index + 1} of {len(self.trials)}")

    def _flip(self):
        self._phase = not self._phase
        self._show()

    # -- keys -----------------------------------------------------------------------
    def keyPressEvent(self, e):
        if e.isAutoRepeat():
            return
        key = e.key()
        if key in (Qt.Key_Left, Qt.Key_Right) and self.trial is not None:
            self.answer("left" if key == Qt.Key_Left else "right")
        elif key in (Qt.Key_A, Qt.Key_L):
            self._held.add("left" if key == Qt.Key_A else "right")
            self._show()
        elif key == Qt.Key_F:
            self.set_flicker(not self.flicker)
        else:
            super().keyPressEvent(e)

    def keyReleaseEvent(self, e):
        if e.isAutoRepeat():
            return
        if e.key() in (Qt.Key_A, Qt.Key_L):
            self._held.discard("left" if e.key() == Qt.Key_A else "right")
            self._show()
        else:
            super().keyReleaseEvent(e)

    def set_flicker(self, on: bool):
        self.flicker, self._phase = on, False
        (self._timer.start if on else self._timer.stop)()
        self._show()

    def showEvent(self, e):
        super().showEvent(e)
        self._shown_at = time.monotonic()
        self.setFocus()

    def answer(self, side: str):
        """Write the answer (a: the left candidate, b: the right), then show the next trial."""
        t = self.trial
        seconds = time.monotonic() - self._shown_at
        append_answer(self.study, self.observer, [self.observer, t.image, t.left, t.right,
                                                  "a" if side == "left" else "b", t.index, t.kind,
                                                  int(self.flicker), f"{seconds:.2f}"])
        self.position += 1
        self._held.clear()
        self._shown_at = time.monotonic()
        self._show()
