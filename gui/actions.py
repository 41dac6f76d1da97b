"""The main window's actions apart from its layout and drawing: opening images, folders,
data sets and models, exports and save dialogs, the About box and the shortcuts list (a
mixin: MainWindow inherits them). They change the view state or read it; the scheduler
does the work that follows."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog, QMessageBox

from codec.lstm.checkpoint import load_model
from codec.classical import CODECS
from codec.imaging.imageio import find_images
from codec.quality import registry
from codec.rd.verdict import VERDICT_SCALES
from codec.base.errors import CodecError
from codec.imaging.imageio import IMAGE_SUFFIXES
from codec.lstm.lstm_file import LSTM_SUFFIX
from codec.lstm.zoo import MODELS_DIR, SHIPPED, display_name

from . import export
from .state import Entry


class WindowActions:
    def comparison_image(self) -> QImage:
        s = self.state.current.session
        k = self.state.iteration
        title = (f"{s.name} · LSTM {k} iterations vs {CODECS[self.state.classical].label} at matched bpp · "
                 f"model {display_name(self.model)} ({self.model.model_id})")
        v = self.views
        views = export.panes_image(v.visible_panes(), s.original.shape[:2], v.visible_bars())
        plot = export.render_plot(self.plot, max(640, views.width()), 360)
        return export.compose([views, plot], title)

    def _need_ready(self) -> bool:
        if self.state.current is None or self.state.current.session is None:
            self.status("Open an image first (Ctrl+O).", error=True)
            return False
        if not self.ready():
            self.status("The comparison is still being computed; export when both sides are shown.", error=True)
            return False
        return True

    def _save_name(self, title: str, suggested: str, filt: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, title, str(Path(self.last_dir()) / suggested), filt)
        return path  # QFileDialog asks before overwriting an existing file

    def _stem(self) -> str:
        return f"{Path(self.state.current.name).stem}_lstm{self.state.iteration}_vs_{self.state.classical}"

    def export_comparison_dialog(self):
        if not self._need_ready():
            return
        path = self._save_name("Export comparison", self._stem() + ".png", "PNG image (*.png)")
        if path:
            self.export_comparison(path)

    def export_comparison(self, path) -> bool:
        try:
            export.save_image(self.comparison_image(), path)
        except export.ExportError as err:
            self.status(f"Export failed: {err}", error=True)
            return False
        self.status(f"Saved the comparison to {path}.")
        return True

    def copy_comparison(self):
        if self._need_ready():
            QGuiApplication.clipboard().setImage(self.comparison_image())
            self.status("Comparison copied to the clipboard.")

    def _export_dialog(self, title: str, suffix: str, filt: str, write, what: str):
        if self.state.current is None or self.state.current.session is None:
            return self.status("Open an image first (Ctrl+O).", error=True)
        path = self._save_name(title, f"{Path(self.state.current.name).stem}{suffix}", filt)
        if path:
            try:
                write(path)
                self.status(f"Saved {what} to {path}.")
            except export.ExportError as err:
                self.status(f"Export failed: {err}", error=True)

    def export_plot_dialog(self):
        self._export_dialog("Export plot", "_rd.png", "PNG image (*.png);;SVG drawing (*.svg)",
                            lambda p: export.export_plot(self.plot, p), "the plot")

    def export_rd_dialog(self):
        self._export_dialog("Export RD data", "_rd.json", "JSON, CompressAI style (*.json);;CSV (*.csv)",
                            lambda p: export.export_rd(self.state.current.session, p), "the RD data")

    def save_files_dialog(self):
        e = self.state.current
        if e is None or e.session is None or not e.session.lstm_complete:
            return self.status("Wait until the image is fully encoded, then save.", error=True)
        folder = QFileDialog.getExistingDirectory(self, "Save .lstm and reconstructions into", self.last_dir())
        if not folder:
            return
        files = export.reconstruction_files(e.session, self.state.iteration, self.state.classical, folder)
        existing = [p.name for p in files if p.exists()]
        if existing and QMessageBox.question(
                self, "Replace files?", "These files exist and would be replaced:\n" + "\n".join(existing)
                + "\n\nReplace them?") != QMessageBox.Yes:
            return
        try:
            export.write_files(files)
            self.status(f"Saved {len(files)} files to {folder}.")
        except export.ExportError as err:
            self.status(f"Save failed: {err}", error=True)

    def show_about(self):
        m = self.model
        meta = m.meta if m else {}
        hours = meta.get("train_seconds", 0) / 3600
        models = "".join(f"<li><b>{z.name}</b>: {z.title}</li>" for z in SHIPPED)
        anchors = ", ".join(CODECS[k].label for k in self.state.classical_codecs)
        text = ("<h3>lstm-compare</h3><p>Progressive LSTM image codecs (Toderici et al. 2017, and the "
                f"variant with hard-sigmoid gates, an image recovery block and γ = 0.5) against {anchors}. "
                f"The Model menu switches between the {len(SHIPPED)} shipped models:</p><ul>{models}</ul>")
        if m:
            where = meta.get("hardware") or f"{hours:.1f} h on {meta.get('device', '?')}"
            data = meta.get("data_description", meta.get("data", "?"))
            text += (f"<p><b>Model</b>: {m.describe()}</p><p><b>Training</b>: {meta.get('steps', '?')} steps, "
                     f"{where}; data: {data}</p><p>File: {m.path}</p>")
        QMessageBox.about(self, "About lstm-compare", text)

    def show_shortcuts(self):
        QMessageBox.information(self, "Keyboard shortcuts", (
            "Left / Right, PgUp / PgDn, Home / End: iterations (bitrate)\n"
            "Up / Down in the list: switch image\n"
            "Ctrl+1 / 2 / 3 / 4: side by side, split, difference, where the bits go\n"
            "Space (hold): show the original in place of the reconstructions\n"
            "[  \\  ]: split divider left, centre, right\n"
            "F: fit · 1: one image pixel per screen pixel · Ctrl++ / Ctrl+-: zoom\n"
            "Mouse wheel: zoom · drag: pan (all views follow)\n"
            "Ctrl+O: open · Ctrl+Shift+O: open a folder · Ctrl+D: open a folder as a data set\n"
            "Ctrl+W: close the image · Ctrl+Shift+W: close all · double-click (large photo): move the region\n"
            "Ctrl+E: export comparison · Ctrl+Shift+C: copy it · Ctrl+S: save files\n"
            "Esc: cancel encoding · F5: encode again"))

    # -- opening images and models --------------------------------------------------
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

    def new_study_dialog(self):
        from .study_setup import NewStudyDialog, make_study
        e = self.state.current
        d = NewStudyDialog(str(e.path) if e is not None else None,
                           [k for k in self.state.classical_codecs], self.last_dir(), self)
        if d.exec():
            make_study(self, d.choices())

    def take_part_dialog(self):
        from .study_setup import take_part
        take_part(self)

    def analyse_study_dialog(self):
        from .study_scale import analyse_dialog
        analyse_dialog(self)

    def open_dataset_dialog(self):
        d = QFileDialog.getExistingDirectory(self, "Open a folder as a data set", self.last_dir())
        if d:
            self.open_dataset([d])

    def open_dataset(self, paths):
        """The data set window for these images and folders (gui/dataset.py)."""
        from .dataset import DatasetWindow
        st = self.state
        if st.codec is None:
            self.status("No model is loaded; use the Model menu to pick one first.", error=True)
            return None
        files = []
        for p in map(Path, paths):
            files += find_images(p) if p.is_dir() else [p]
        if not files:
            self.status("No image files there.", error=True)
            return None
        # Figure 5 over the data set too (with the encoder the plot uses for them)
        others = {name: self.scheduler.others.get(mid, path, st.others_options())
                  for mid, name, path in st.plot_models()}
        # the slow metrics the verdict is given on (SSIMULACRA2), and the plotted one if slow
        slow = [m for m in (registry.scale(s).metric for s in (st.metric, *VERDICT_SCALES)) if m.slow]
        w = DatasetWindow(files, st.codec, [k for k in st.classical_codecs if k != "jpeg444"], self.scheduler.workers,
                          others, asked=tuple(dict.fromkeys(m.id for m in slow)), parent=self)
        w.open_image.connect(lambda path: self.open_paths([path]))
        w.show()
        return w

    def open_paths(self, paths) -> list[Entry]:
        """Open files and folders (folders: every image in them). Returns the new entries."""
        if self.state.codec is None:
            self.status("No model is loaded; use the Model menu to pick one first.", error=True)
            return []
        files, skipped = [], []
        for p in map(Path, paths):
            if p.is_dir():
                found = find_images(p)
                skipped += [q.name for q in p.iterdir() if q.is_file() and q.suffix.lower() not in IMAGE_SUFFIXES]
                if not found:
                    self.status(f"{p} holds no image files.", error=True)
                files += found
            else:
                files.append(p)
        if skipped:
            self.status(f"Skipped {len(skipped)} file(s) that are not images: {', '.join(skipped[:5])}"
                        f"{'…' if len(skipped) > 5 else ''}", error=True)
        if not files:
            return []
        self.settings.setValue("last_dir", str(files[0].parent))
        new, first = self.state.add(files)
        for e in new:
            self.scheduler.load(e)
        self.state.set_current(first)
        return new

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
        self.state.set_model(model)
        self.status(f"Loaded {model.describe()}")
        return True
