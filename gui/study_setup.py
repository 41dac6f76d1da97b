"""The Study menu's dialogs: a new study (images, codecs, the LSTM's iterations, the bpp
tolerance of the match), made in the background on the app's LSTM worker; taking part as an
observer; and the analysis of a study's answers (gui/study_scale.py draws it)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QInputDialog, QLabel, QLineEdit, QPushButton, QRadioButton, QSpinBox,
                               QVBoxLayout)

from codec.base.errors import CodecError
from codec.classical import CODECS
from codec.imaging.imageio import find_images
from codec.study.stimuli import TOLERANCE_BPP

DEFAULT_ITERATIONS = "1,2,3,4,6,8"


class NewStudyDialog(QDialog):
    """What a study compares. `open_image`: the path of the image open in the main window (or
    None); `codecs`: the classical codec keys available here."""

    def __init__(self, open_image: str | None, codecs: list[str], start_dir: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("New study")
        self.start_dir = start_dir
        self.this_image = QRadioButton(f"the open image ({Path(open_image).name})" if open_image else "the open image")
        self.this_image.setEnabled(open_image is not None)
        self.open_image = open_image
        self.a_folder = QRadioButton("the images of a folder:")
        self.folder = QLineEdit()
        pick = QPushButton("Choose…")
        pick.clicked.connect(self._pick_images)
        (self.this_image if open_image else self.a_folder).setChecked(True)
        images = QVBoxLayout()
        images.addWidget(self.this_image)
        row = QHBoxLayout()
        row.addWidget(self.a_folder)
        row.addWidget(self.folder, 1)
        row.addWidget(pick)
        images.addLayout(row)
        self.codec_boxes = {k: QCheckBox(CODECS[k].label) for k in codecs}
        for k, box in self.codec_boxes.items():
            box.setChecked(k in ("jpeg", "webp"))
        codec_row = QHBoxLayout()
        for box in self.codec_boxes.values():
            codec_row.addWidget(box)
        self.iterations = QLineEdit(DEFAULT_ITERATIONS)
        self.iterations.setToolTip("The LSTM's iteration counts (1,2,4,8), or bitrates in bpp (0.1,0.25,0.5: on each "
                                   "image the iterations nearest them); each classical codec is matched to the LSTM's "
                                   "real bpp at each")
        self.tolerance = QDoubleSpinBox()
        self.tolerance.setRange(0.001, 1.0)
        self.tolerance.setDecimals(3)
        self.tolerance.setSingleStep(0.005)
        self.tolerance.setValue(TOLERANCE_BPP)
        self.tolerance.setSuffix(" bpp")
        self.tolerance.setToolTip("A classical codec's match farther than this from the LSTM's bpp is left out "
                                  "(and the manifest says so)")
        self.check_every = QSpinBox()
        self.check_every.setRange(3, 50)
        self.check_every.setValue(10)
        self.check_every.setToolTip("A check trial after every so many: two identical candidates, or the original "
                                    "against a strongly degraded copy")
        self.out = QLineEdit()
        choose_out = QPushButton("Choose…")
        choose_out.clicked.connect(self._pick_out)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out, 1)
        out_row.addWidget(choose_out)
        form = QFormLayout()
        form.addRow("Images", images)
        form.addRow("Codecs beside the LSTM", codec_row)
        form.addRow("LSTM bitrates (iterations or bpp)", self.iterations)
        form.addRow("Match within", self.tolerance)
        form.addRow("Check trial every", self.check_every)
        form.addRow("Study folder (new or empty)", out_row)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #ff8080;")
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addWidget(buttons)

    def _pick_images(self):
        d = QFileDialog.getExistingDirectory(self, "A folder of images for the study", self.start_dir)
        if d:
            self.folder.setText(d)
            self.a_folder.setChecked(True)

    def _pick_out(self):
        d = QFileDialog.getExistingDirectory(self, "The study's folder (new or empty)", self.start_dir)
        if d:
            self.out.setText(d)

    def choices(self) -> dict:
        """The study asked for, or CodecError with a sentence saying what to mend."""
        if self.this_image.isChecked():
            images = [self.open_image]
        else:
            folder = self.folder.text().strip()
            images = find_images(folder) if folder and Path(folder).is_dir() else []
            if not images:
                raise CodecError("choose a folder that holds images, or the open image.")
        values = [v for v in self.iterations.text().replace(" ", "").split(",") if v]
        iterations, bpp = None, None
        try:
            if any("." in v for v in values):
                bpp = sorted({float(v) for v in values})
            else:
                iterations = sorted({int(v) for v in values})
        except ValueError:
            raise CodecError("the LSTM's bitrates are iteration counts (1,2,4,8) or bpp values (0.1,0.25,0.5), "
                             "separated by commas.") from None
        if not values or (iterations and iterations[0] < 1) or (bpp and bpp[0] <= 0):
            raise CodecError("give at least one LSTM iteration count (1 or more) or bpp value (above 0).")
        out = self.out.text().strip()
        if not out:
            raise CodecError("choose the study's folder.")
        if (Path(out) / "manifest.json").exists():
            raise CodecError(f"{out} holds a study already; choose a new or empty folder (nothing is overwritten).")
        return {"images": images, "codecs": [k for k, b in self.codec_boxes.items() if b.isChecked()],
                "iterations": iterations, "bpp": bpp, "tolerance": self.tolerance.value(),
                "check_every": self.check_every.value(),
                "folder": out}

    def _accept(self):
        try:
            self.choices()
        except CodecError as e:
            self.error.setText(str(e))
            return
        self.accept()


class _Signals(QObject):
    made = Signal(object, str)  # the Study (or None), a sentence


def make_study(window, choices: dict) -> None:
    """Make the study on the app's LSTM worker (encoding and matching take seconds per image);
    the main window's status bar says how it went."""
    from codec.study.stimuli import create_study
    signals = _Signals(window)

    def done(study, text):
        window.status(text, error=study is None)
        signals.deleteLater()

    signals.made.connect(done)
    codec = window.state.codec

    def run(ticket):
        try:
            study = create_study(choices["folder"], choices["images"], codec, choices["codecs"],
                                 choices["iterations"], choices["tolerance"], choices["check_every"],
                                 bpp=choices["bpp"])
        except (CodecError, OSError) as e:
            signals.made.emit(None, f"The study could not be made: {e}")
            return
        left_out = f"; {len(study.notes)} conditions left out (see its manifest)" if study.notes else ""
        signals.made.emit(study, f"Study made in {study.folder}: {len(study.conditions)} stimuli, {len(study.pairs)} "
                                 f"pairs{left_out}. Observers take part with Study > Take part, or "
                                 f"python main.py --study {study.folder}")

    window.status(f"Making the study in {choices['folder']}…")
    window.scheduler.workers.submit("lstm", run, priority=30, what="making a study")


def take_part(window) -> None:
    """Pick a study folder and an observer name; open the observer's window."""
    from codec.study.folder import Study, check_observer
    from .study import StudyWindow
    folder = QFileDialog.getExistingDirectory(window, "The study to take part in", window.last_dir())
    if not folder:
        return
    try:
        study = Study.open(folder)
        name, ok = QInputDialog.getText(window, "Take part in a study", "Your name (letters, digits, '-', '_'):")
        if not ok:
            return
        check_observer(name)
    except CodecError as e:
        window.status(str(e), error=True)
        return
    w = StudyWindow(study, name, window)
    w.showMaximized()
