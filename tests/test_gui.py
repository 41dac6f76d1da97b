"""The real window, driven offscreen with pytest-qt (tiny random model for speed)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from codec.classical import get_codec

pytest.importorskip("pytestqt")
import shiboken6  # noqa: E402
from PySide6.QtCore import QRectF, QSettings  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

from gui.scheduler import IMPORTED_AHEAD  # noqa: E402
from gui.window import MainWindow  # noqa: E402


@pytest.fixture
def photos(tmp_path, sample_pixels):
    a = tmp_path / "a.png"
    b = tmp_path / "b.png"
    Image.fromarray(sample_pixels[:96, :128]).save(a)
    Image.fromarray(sample_pixels[150:230, 200:312]).save(b)
    return a, b


@pytest.fixture
def window(qtbot, tiny_model, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(tiny_model, settings)
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    yield w
    if shiboken6.isValid(w):  # a test may have closed it: Qt then deleted it
        w.close()


def _wait_encoded(qtbot, w, timeout=30000):
    # bool(): pytest-qt treats a callback returning None as an assertion that passed
    qtbot.waitUntil(lambda: bool(w.state.current and w.state.current.session and w.state.current.session.lstm_complete),
                    timeout=timeout)


def test_open_slider_updates_bpp_and_image(qtbot, window, photos):
    window.open_paths([photos[0]])
    _wait_encoded(qtbot, window)
    qtbot.waitUntil(lambda: window.ready(), timeout=20000)
    window.slider.setValue(1)
    img1, label1 = window.views.lstm.copy(), window.iter_label.text()
    window.slider.setValue(3)
    assert "3/4 iterations" in window.iter_label.text()
    s = window.state.current.session
    assert f"{s.lstm[2].bpp:.3f} bpp" in window.iter_label.text() and label1 != window.iter_label.text()
    assert not np.array_equal(img1, window.views.lstm)
    assert np.array_equal(window.views.lstm, s.lstm[2].reconstruction)
    # the classical side is matched to the same bpp (not above it, unless even JPEG's
    # smallest file is: this tiny photo's entropy-coded LSTM bits can go lower)
    qtbot.waitUntil(lambda: window.ready(3), timeout=20000)
    m = s.matches[("jpeg", 3)]
    jpeg_floor = min(get_codec("jpeg").encode(s.original, q).bpp for q in range(1, 6))
    assert m.bpp <= max(s.lstm[2].bpp, jpeg_floor)
    assert np.array_equal(window.views.classical, m.reconstruction)
    # the plot shows every LSTM point, and clicking one moves the slider
    xs, _ = window.plot.lstm_curve.getData()
    assert len(xs) == 4
    window.plot.iterationClicked.emit(2)
    assert window.state.iteration == 2
    # with the JPEG curve in, the plot's title gives this image's BD-rate against it (whichever
    # of the LSTM's last iteration and the JPEG curve comes last)
    qtbot.waitUntil(lambda: "jpeg" in s.curves, timeout=30000)
    qtbot.waitUntil(lambda: "BD-rate" in window.plot.getPlotItem().titleLabel.text, timeout=5000)
    bd = s.bd_rate("jpeg")
    title = window.plot.getPlotItem().titleLabel.text
    assert ("undefined" in title) if np.isnan(bd) else (f"BD-rate {bd:+.1f}%" in title)


def test_difference_and_split_views(qtbot, window, photos):
    window.open_paths([photos[0]])
    _wait_encoded(qtbot, window)
    qtbot.waitUntil(lambda: window.ready(), timeout=20000)
    window.state.set_mode("diff")
    v = window.views
    shown = v.p_dl.image.image
    err = np.abs(v.lstm.astype(np.float64) - v.original.astype(np.float64)).sum(axis=2) / 3.0
    # |error| x gain on the colour bar's scale (255 / gain levels = top of the bar)
    idx = np.clip(np.rint(err * v.gain), 0, 255).astype(int)
    assert np.array_equal(shown[..., :3], v._lut[idx]) and (shown[..., 3] == 255).all()  # shown as RGBA
    before = v.p_dc.image.image
    window.gain.setValue(16)
    assert not np.array_equal(v.p_dc.image.image, before)  # JPEG's small errors brighten
    assert v.colorbar.levels() == pytest.approx((0, 255 / 16))
    window.signed.setChecked(True)
    assert v.colorbar.levels() == pytest.approx((-255 / 16, 255 / 16))
    signed = (v.lstm.astype(np.float64) - v.original.astype(np.float64)).sum(axis=2) / 3.0
    idx = np.clip(np.rint((0.5 + 0.5 * signed * 16 / 255) * 255), 0, 255).astype(int)
    assert np.array_equal(v.p_dl.image.image[..., :3], v._lut[idx])
    window.state.set_mode("split")
    window.views.set_split_position(0.25)
    right = window.views.split_right.image
    w = window.views.original.shape[1]
    assert right.shape[1] == w - round(0.25 * w)
    assert np.array_equal(right[..., :3], window.views.classical[:, round(0.25 * w):])
    # A/B flicker shows the original in place of the reconstructions
    window.views.set_flicker(True)
    assert np.array_equal(window.views.p_split.image.image[..., :3], window.views.original)
    window.views.set_flicker(False)


def _qimage_array(img: QImage) -> np.ndarray:
    img = img.convertToFormat(QImage.Format_RGB888)
    a = np.frombuffer(img.constBits(), np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    return a[:, :img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def test_export_png_has_the_views_and_plot(qtbot, window, photos, tmp_path):
    from gui import export
    window.open_paths([photos[0]])
    _wait_encoded(qtbot, window)
    qtbot.waitUntil(lambda: window.ready(), timeout=20000)
    out = tmp_path / "cmp.png"
    assert window.export_comparison(out)
    saved = np.asarray(Image.open(out).convert("RGB"))
    v = window.views
    panes = _qimage_array(export.panes_image(v.visible_panes(), v.original.shape[:2]))
    # the views row sits under the title, centred, pixel for pixel as rendered
    x0 = (saved.shape[1] - panes.shape[1]) // 2
    assert np.array_equal(saved[28:28 + panes.shape[0], x0:x0 + panes.shape[1]], panes)
    # its first pane is the original photo (mean colour), the second the LSTM reconstruction
    w = v.p_orig.image_pixmap(v.original.shape[:2]).width()
    first = panes[30:26 + w * v.original.shape[0] // v.original.shape[1] - 4, 12:10 + w - 2]
    assert np.abs(first.reshape(-1, 3).mean(0) - v.original.reshape(-1, 3).mean(0)).max() < 12
    # and the plot is below the views: many colours, the LSTM's red among them
    plot = saved[28 + panes.shape[0]:]
    assert plot.shape[0] >= 300 and ((plot[..., 0] > 200) & (plot[..., 1] < 90)).sum() > 50
    # never overwrites without asking: the window's path goes through a file dialog
    # that confirms; the headless path refuses (test_headless_export_command)


def test_cancel_mid_encode(qtbot, window, photos, monkeypatch):
    import codec.rd.session as session_mod
    original_run = session_mod.ImageSession.encode_lstm

    def slow_run(self, iterations, should_stop=None, preview=None, draft=None):
        import time
        for s in original_run(self, iterations, should_stop, preview, draft):
            time.sleep(0.3)
            yield s
    monkeypatch.setattr(session_mod.ImageSession, "encode_lstm", slow_run)
    window.open_paths([photos[0]])
    qtbot.waitUntil(lambda: bool(window.state.current.session is not None and len(window.state.current.session.lstm) >= 1),
                    timeout=20000)
    window.cancel()
    qtbot.waitUntil(lambda: window.scheduler.workers.lstm.current is None, timeout=5000)
    s = window.state.current.session
    assert not s.lstm_complete and window.progress.isHidden()
    window.reencode()
    _wait_encoded(qtbot, window)


def test_switching_images_stops_stale_work_and_caches(qtbot, window, photos):
    window.open_paths(list(photos))
    qtbot.waitUntil(lambda: window.scheduler.encoding is not None, timeout=20000)
    first = window.state.current
    encoding = window.scheduler.encoding
    window.list.setCurrentRow(1)
    assert window.state.current is not first and window.scheduler.encoding is not encoding
    _wait_encoded(qtbot, window)
    window.list.setCurrentRow(0)
    _wait_encoded(qtbot, window)
    window.list.setCurrentRow(1)
    # cached: no new encode starts for an image already done
    assert window.state.current.session.lstm_complete and window.scheduler.encoding is None
    assert first.session.lstm_complete


def test_corrupt_and_mixed_files_keep_the_app_running(qtbot, window, photos, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (tmp_path / "notes.txt").write_text("hello")
    window.open_paths([bad])
    qtbot.waitUntil(lambda: bool(window.state.current.error), timeout=10000)
    assert "could not be read as an image" in window.statusBar().currentMessage()
    window.open_paths([tmp_path])  # the folder: two good images, one broken, one text file
    assert "not images" in window.statusBar().currentMessage() or len(window.state.entries) == 3
    window.list.setCurrentRow(window.state.entries.index(next(e for e in window.state.entries if e.path == photos[1])))
    _wait_encoded(qtbot, window)
    # coming back to the broken file later: the reason is shown where the image would be
    window.statusBar().clearMessage()
    window.list.setCurrentRow(window.state.entries.index(next(e for e in window.state.entries if e.path == bad)))
    assert "could not be read as an image" in window.statusBar().currentMessage()
    message = window.views.p_orig.message
    assert message.isVisible() and "could not be read" in message.toPlainText().replace("\n", " ")
    assert "unreadable" in window.views.p_orig.caption.text()
    window.list.setCurrentRow(window.state.entries.index(next(e for e in window.state.entries if e.path == photos[1])))
    assert not window.views.p_orig.message.isVisible()


def test_opening_a_damaged_lstm_file_shows_its_intact_iterations(qtbot, window, photos, tmp_path, tiny_model):
    from codec.lstm import bitstream
    from codec.lstm.coder import LSTMCodec
    from codec.imaging.imageio import load_rgb
    pixels = load_rgb(photos[0]).pixels
    codec = LSTMCodec(tiny_model)
    data, _ = codec.encode(pixels, 4)
    bad = bytearray(data)
    bad[bitstream.read(data).file_bytes(2) + 9] ^= 0x04  # inside iteration 3
    path = tmp_path / "damaged.lstm"
    path.write_bytes(bytes(bad))
    window.open_paths([path])
    qtbot.waitUntil(lambda: bool(window.state.current.session or window.state.current.error), timeout=20000)
    assert not window.state.current.error
    s = window.state.current.session
    assert np.array_equal(s.original, codec.decode(data, 2))  # the two intact iterations
    assert "decoded 2 of the file's 4 iterations" in s.notes[0] and "iteration 3 of 4 is damaged" in s.notes[0]
    assert "iteration 3 of 4 is damaged" in window.statusBar().currentMessage()
    assert "decoded 2 of" in window.views.p_orig.caption.text()
    # a file with nothing intact is an unreadable entry with its reason, never an exception
    path2 = tmp_path / "hopeless.lstm"
    path2.write_bytes(data[:bitstream.HEADER_BYTES + 3])
    window.open_paths([path2])
    qtbot.waitUntil(lambda: bool(window.state.current.error), timeout=10000)
    assert "truncated" in window.state.current.error


def test_bad_model_is_reported(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: None)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"nope")
    assert not window.set_model_path(bad)
    assert "not a readable model checkpoint" in window.statusBar().currentMessage()


def test_settings_persist(qtbot, tiny_model, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    w = MainWindow(tiny_model, settings)  # closed here: a closed window deletes itself, so not qtbot's
    w.codec_box.setCurrentIndex(w.codec_box.findData("webp"))
    w.state.set_mode("diff")
    w.slider.setValue(3)
    w.close()
    w2 = MainWindow(tiny_model, QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    assert w2.state.classical == "webp" and w2.views.mode == "diff" and w2.state.iteration == 3
    w2.close()


@pytest.mark.slow
def test_headless_export_command(tmp_path, tiny_model_path, photos):
    out = tmp_path / "fig.png"
    cmd = [sys.executable, "main.py", str(photos[0]), "--iterations", "2", "--export", str(out),
           "--model", str(tiny_model_path)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                       cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert r.returncode == 0, r.stderr
    assert QImage(str(out)).width() > 600
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                       cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert r.returncode == 2 and "already exists" in r.stderr


SETTLE = """
import gc, json, os, sys, time
from PySide6.QtWidgets import QApplication
from gui.scheduler import IMPORTED_AHEAD
from gui.window import MainWindow
if __name__ == "__main__":
    app = QApplication([])
    win = MainWindow(None)
    before = [m for m in IMPORTED_AHEAD if m in sys.modules]
    win.scheduler.warm_up()
    t = time.monotonic()
    while win.scheduler.busy() and time.monotonic() - t < 240:
        app.processEvents()
        time.sleep(0.01)
    after = [m for m in IMPORTED_AHEAD if m in sys.modules]
    print(json.dumps({"before": before, "after": after, "frozen": gc.get_freeze_count(),
                      "tracked": len(gc.get_objects())}), flush=True)
    os._exit(0)
"""


@pytest.mark.slow
def test_warm_up_imports_what_an_opening_needs_and_freezes_the_start_up_heap(tmp_path):
    """While the user picks a file, the app imports what the first opening would import on
    its way (the BD-rate readout's library would otherwise load on the GUI thread) and moves
    what start-up made out of the garbage collector's reach, so that no full collection
    over it falls inside a slider drag."""
    script = tmp_path / "settle.py"
    script.write_text(SETTLE)
    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                       env=dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(root),
                                HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path)))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["before"] == [] and out["after"] == list(IMPORTED_AHEAD), out
    assert out["frozen"] > 100_000 and out["tracked"] < out["frozen"] / 10, out


def test_drop_files_opens_them(qtbot, window, photos):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in photos])
    ev = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(ev)
    assert [e.path for e in window.state.entries] == list(photos)
    _wait_encoded(qtbot, window)


def test_error_sum_matches_the_plain_formula():
    from gui.views import error_sum
    rng = np.random.default_rng(3)
    o = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    r = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    d = r.astype(np.int64) - o.astype(np.int64)
    for original in (o, o.astype(np.int16)):
        assert np.array_equal(error_sum(original, r, signed=True), d.sum(axis=2))
        assert np.array_equal(error_sum(original, r, signed=False), np.abs(d).sum(axis=2))
    assert error_sum(o, r, signed=False).dtype == np.int16


def test_difference_view_prefetches_neighbouring_error_maps(qtbot, window, photos, monkeypatch):
    window.open_paths([photos[0]])
    _wait_encoded(qtbot, window)
    qtbot.waitUntil(lambda: window.ready(1) and window.ready(3), timeout=20000)  # matches at 1 and 3
    window.slider.setValue(2)
    qtbot.waitUntil(lambda: window.ready(2), timeout=20000)
    window.state.set_mode("diff")
    v, s = window.views, window.state.current.session
    cached = lambda rec: bool(v._errors.derived_from(rec))  # noqa: E731
    neighbours = [s.lstm[0].reconstruction, s.lstm[2].reconstruction,
                  s.matches[("jpeg", 1)].reconstruction, s.matches[("jpeg", 3)].reconstruction]
    qtbot.waitUntil(lambda: all(cached(r) for r in neighbours), timeout=5000)
    prefetched = v._errors.derived_from(s.lstm[2].reconstruction)[0]
    import gui.views
    computed = []
    real = gui.views.error_sum
    monkeypatch.setattr(gui.views, "error_sum", lambda *a: computed.append(1) or real(*a))
    window.slider.setValue(3)
    assert np.array_equal(v.p_dl.image.image, prefetched)
    assert not computed  # the move only looked both maps up
    err = np.abs(v.lstm.astype(np.float64) - v.original.astype(np.float64)).sum(axis=2) / 3.0
    assert np.array_equal(prefetched[..., :3], v._lut[np.clip(np.rint(err * v.gain), 0, 255).astype(int)])


@pytest.mark.slow
def test_model_menu_switches_between_shipped_models(qtbot, window, photos, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from codec.lstm.zoo import SHIPPED
    actions = {a.text(): a for a in window.model_actions.actions()}
    assert sorted(actions) == sorted(m.label for m in SHIPPED)
    assert not any(a.isChecked() for a in actions.values())  # the tiny test model is not a shipped one
    window.open_paths([photos[0]])
    _wait_encoded(qtbot, window)
    for m in SHIPPED:
        actions[m.label].trigger()
        assert window.model.path == str(m.path) and window.slider.maximum() == window.model.config.iterations
        assert actions[m.label].isChecked()
        assert f"({m.name}, model {window.model.model_id}" in window.windowTitle()  # the zoo's name
        _wait_encoded(qtbot, window, timeout=60000)  # the open image is encoded again with it
    # a checkpoint that fails to load leaves the model in use, and its menu item, as they were
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: None)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"nope")
    assert not window.set_model_path(bad)
    assert window.model.path == str(SHIPPED[-1].path) and actions[SHIPPED[-1].label].isChecked()


def test_entropy_toggle_reencodes_with_plain_bits_and_keeps_curves(qtbot, window, photos):
    from codec.lstm import bitstream
    window.open_paths([photos[0]])
    _wait_encoded(qtbot, window)
    s = window.state.current.session
    qtbot.waitUntil(lambda: "jpeg" in s.curves, timeout=30000)
    coded = [p.num_bytes for p in s.lstm]
    window.option_actions["entropy"].trigger()  # off: the paper's plain bits
    assert not window.state.entropy and window.settings.value("entropy", type=bool) is False
    assert "plain bits" in window.windowTitle()
    _wait_encoded(qtbot, window)
    t = window.state.current.session
    assert t is not s and t.curves["jpeg"] is s.curves["jpeg"]  # the classical curve is not recomputed
    header = window.state.codec.header(t.height, t.width, 1)
    assert [p.num_bytes for p in t.lstm] == [header.file_bytes(k) for k in range(1, len(t.lstm) + 1)]
    assert all(np.array_equal(a.reconstruction, b.reconstruction) for a, b in zip(s.lstm, t.lstm))
    assert [p.num_bytes for p in t.lstm] != coded and not bitstream.read(t.lstm_file()).header.entropy_coded


@pytest.mark.slow
def test_encoder_menu_reencodes_with_other_bits_that_decode(qtbot, window, photos):
    from codec.lstm.coder import LSTMCodec
    from codec.lstm.encoders import DEFAULT_ENCODER, ENCODERS
    assert window.state.encoder == DEFAULT_ENCODER
    actions = {a.data(): a for a in window.encoder_actions.actions()}
    assert set(actions) == set(ENCODERS) and actions[DEFAULT_ENCODER].isChecked()
    actions["fast"].trigger()
    window.open_paths([photos[0]])
    _wait_encoded(qtbot, window)
    s = window.state.current.session
    assert s.codec.refine is None and "fast encoder" in window.windowTitle()
    actions["thorough"].trigger()
    assert window.state.codec.refine == ENCODERS["thorough"] and actions["thorough"].isChecked()
    assert window.settings.value("encoder") == "thorough" and "thorough encoder" in window.windowTitle()
    _wait_encoded(qtbot, window)
    t = window.state.current.session
    assert t is not s
    # other bits than the fast encoder's, read back by a plain decoder to the same image
    assert t.lstm_file() != s.lstm_file()
    assert np.array_equal(LSTMCodec(window.model).decode(t.lstm_file()), t.lstm[-1].reconstruction)


def test_arithmetic_menu_reencodes_in_another_precision(qtbot, window, photos):
    from codec.lstm.bitstream import file_info
    from codec.lstm.coder import runnable_precisions
    actions = {a.data(): a for a in window.precision_actions.actions()}
    assert actions["auto"].isChecked() and window.state.precision == "auto"
    assert {name for name, a in actions.items() if a.isEnabled()} == set(runnable_precisions())
    actions["fp32"].trigger()
    assert window.state.codec.precision == "fp32" and window.settings.value("precision") == "fp32"
    window.open_paths([photos[0]])
    _wait_encoded(qtbot, window)
    assert file_info(window.state.current.session.lstm_file())["precision"] == "fp32"
    if actions["int8"].isEnabled():
        actions["int8"].trigger()
        _wait_encoded(qtbot, window)
        assert file_info(window.state.current.session.lstm_file())["precision"] == "int8"


def test_signals_keep_the_reference_count_of_true():
    # PySide6 6.12.0 dropped a reference to True on each emit(); the app emits thousands of
    # signals in a session (every slider move, every worker result) and would abort.
    import gc
    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        ping = Signal(object)

    e, got = Emitter(), []
    e.ping.connect(got.append)
    gc.collect()
    before = sys.getrefcount(True)
    for i in range(2000):
        e.ping.emit(i)
    gc.collect()
    assert len(got) == 2000 and sys.getrefcount(True) > before - 100


def test_child_process_runner_gives_the_same_samples(small_image):
    from codec.rd.session import classical_sample, matched_sample
    from gui.worker import ChildProcessRunner

    runner = ChildProcessRunner()
    try:
        for fn, arg in ((classical_sample, 50), (matched_sample, 0.5)):
            here, there = fn("jpeg", small_image, arg), runner(fn, "jpeg", small_image, arg)
            assert there.num_bytes == here.num_bytes and there.quality == here.quality
            assert np.array_equal(there.reconstruction, here.reconstruction)
    finally:
        runner.shutdown()


def test_child_process_runner_falls_back_to_this_process(small_image, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    from codec.rd.session import classical_sample
    from gui.worker import ChildProcessRunner

    class Broken:
        def submit(self, *a):
            raise BrokenProcessPool("the child died")

        def shutdown(self, **k):
            pass

    runner = ChildProcessRunner()
    here = classical_sample("jpeg", small_image, 50)
    for died in (1, 2):
        runner._pool = Broken()
        assert runner(classical_sample, "jpeg", small_image, 50).num_bytes == here.num_bytes  # retried here
        assert runner._in_process == (died == 2)  # a second death: no more children
    assert runner(classical_sample, "jpeg", small_image, 50).num_bytes == here.num_bytes and runner._pool is None


@pytest.mark.parametrize("mode", ["side", "diff"])
def test_views_fit_the_image_until_the_user_zooms(qtbot, tiny_model, tmp_path, photos, mode):
    """Opened in any view (the last one is restored at start-up, and a difference pane has
    no image until the reconstructions arrive), the whole image is shown, and stays shown
    when the window is resized; once the user zooms, a resize keeps the zoomed region."""
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    settings.setValue("mode", mode)
    w = MainWindow(tiny_model, settings)  # closed at the end: a closed window deletes itself, so not qtbot's
    w.resize(1000, 700)
    w.show()
    w.open_paths([photos[0]])
    _wait_encoded(qtbot, w)
    qtbot.waitUntil(lambda: w.ready(), timeout=20000)
    vb = w.views.current_view_box()
    h, wd = w.views.original.shape[:2]

    def whole_image_shown():
        r = vb.viewRect()
        return (r.left() <= 0.5 and r.top() <= 0.5 and r.right() >= wd - 0.5 and r.bottom() >= h - 0.5
                and min(r.width() / wd, r.height() / h) < 1.05)  # fitted: no margin on one axis

    qtbot.waitUntil(whole_image_shown, timeout=5000)
    w.resize(1400, 900)
    qtbot.waitUntil(whole_image_shown, timeout=5000)
    vb.scaleBy((0.5, 0.5))
    zoomed = vb.viewRect()
    assert not whole_image_shown()
    w.resize(1200, 800)
    qtbot.wait(300)
    assert not whole_image_shown() and abs(vb.viewRect().center().x() - zoomed.center().x()) < 1
    w.close()


def test_a_large_photo_is_compared_on_a_region_the_user_moves(qtbot, window, photos, monkeypatch):
    from codec.imaging import region
    monkeypatch.setattr(region, "REGION_SIDE", 64)  # the 96x128 photo counts as large
    window.open_paths([photos[0]])
    qtbot.waitUntil(lambda: bool(window.state.current.session), timeout=10000)
    s = window.state.current.session
    r = s.region
    assert s.original.shape == (64, 64, 3) and (r.full_height, r.full_width) == (96, 128)
    full = np.asarray(Image.open(photos[0]).convert("RGB"))
    assert np.array_equal(s.original, full[r.y:r.y + 64, r.x:r.x + 64])
    assert "128x96 photo" in s.notes[0] and "128x96" in window.list.currentItem().text()
    window.views.hovered.emit(1, 2)
    assert f"x {r.x + 1}, y {r.y + 2} (in the photo)" in window.readout.text()
    _wait_encoded(qtbot, window)
    window.views.double_clicked.emit(0, 0)  # towards the top-left corner
    qtbot.waitUntil(lambda: bool(window.state.current.session and window.state.current.session.region.x < r.x), timeout=10000)
    moved = window.state.current.session.region
    assert (moved.y, moved.x) == (0, 0)
    assert np.array_equal(window.state.current.session.original, full[:64, :64])
    _wait_encoded(qtbot, window)


def test_where_the_bits_go_view(qtbot, window, photos):
    window.open_paths([photos[0]])
    _wait_encoded(qtbot, window)
    window.slider.setValue(2)
    window.state.set_mode("bits")
    qtbot.waitUntil(lambda: window.views.block_maps is not None, timeout=10000)
    spent, removed = window.views.block_maps
    assert spent.shape == removed.shape == (6, 8)  # the 96x128 photo's blocks
    assert (spent, removed) == window.state.current.session.block_costs(2)
    assert "bits in all" in window.views.p_bits.caption.text()
    assert window.state.current.session.coding_mode(2) in window.views.p_bits.caption.text()  # how it is stored
    assert window.views.p_bits.image.image.shape == (96, 128, 3)
    window.views.hovered.emit(20, 40)
    assert f"block (1, 2): {spent[2, 1]:.1f} bits" in window.readout.text()
    window.slider.setValue(3)  # another iteration: other maps
    qtbot.waitUntil(lambda: window.views.block_maps is not None
                    and window.views.block_maps[0] is window.state.current.session.block_costs(3)[0], timeout=10000)
    assert window.export_comparison(window.settings.fileName() + ".png")


@pytest.mark.slow
def test_figure5_live_draws_every_shipped_model(qtbot, window, photos):
    """With the option on, the image is also encoded with each shipped model, whose curves
    join the plot (dashed), one legend entry each; off, they go."""
    from codec.lstm.zoo import SHIPPED
    window.open_paths([photos[0]])
    _wait_encoded(qtbot, window)
    window.set_option("all_models", True)
    s = window.state.current.session
    others = [m.model_id for m in SHIPPED]  # the tiny test model is none of them
    qtbot.waitUntil(lambda: all(mid in s.model_curves for mid in others), timeout=120000)
    def drawn(mid):
        x = window.plot.curves["lstm:" + mid].getData()[0]
        return x is not None and len(x) == len(s.model_curves[mid])

    qtbot.waitUntil(lambda: all(drawn(mid) for mid in others), timeout=10000)
    names = [window.plot.legend.getLabel(window.plot.curves["lstm:" + m.model_id]).text for m in SHIPPED]
    assert names == [f"LSTM {m.name}" for m in SHIPPED]
    assert all(p.bpp > 0 and 0 < p.quality["ms-ssim-rgb"] <= 1 for mid in others for p in s.model_curves[mid])
    window.set_option("all_models", False)
    assert not [k for k in window.plot.curves if k.startswith("lstm:")]


def test_ssim_and_ssimulacra2_on_the_plot(qtbot, window, photos):
    """SSIM comes with every sample; SSIMULACRA2 is measured in the background once it is the
    plotted metric, for every sample, and the BD-rate in the title follows the metric."""
    window.open_paths([photos[0]])
    _wait_encoded(qtbot, window)
    s = window.state.current.session
    qtbot.waitUntil(lambda: "jpeg" in s.curves, timeout=60000)
    assert all(0 < p.quality["ssim-rgb"] <= 1 for p in s.samples())
    window.metric_box.setCurrentIndex(window.metric_box.findData("ssim-rgb"))
    assert window.plot.lstm_curve.getData()[1][0] == s.lstm[0].quality["ssim-rgb"]
    window.metric_box.setCurrentIndex(window.metric_box.findData("ssimulacra2"))
    qtbot.waitUntil(lambda: all("ssimulacra2" in p.quality for p in s.samples()), timeout=120000)
    def plotted():
        y = window.plot.lstm_curve.getData()[1]
        return y is not None and len(y) == len(s.lstm)

    qtbot.waitUntil(plotted, timeout=10000)
    assert list(window.plot.lstm_curve.getData()[1]) == [p.quality["ssimulacra2"] for p in s.lstm]
    assert "ssimulacra2" in s.curve("jpeg") and "ssim-rgb" in s.curve("lstm")
    bd = s.bd_rate("jpeg", "ssimulacra2")
    assert bd is not None


def test_the_headline_gives_the_verdict_on_three_metrics(qtbot, window, photos):
    """The per-image headline: the BD-rate on the plotted metric, then on SSIMULACRA2 (measured in
    the background on the LSTM's and the shown codec's curves, though not plotted) and PSNR."""
    window.open_paths([photos[0]])
    _wait_encoded(qtbot, window)
    s = window.state.current.session
    qtbot.waitUntil(lambda: "jpeg" in s.curves, timeout=60000)
    qtbot.waitUntil(lambda: all("ssimulacra2" in p.quality for p in [*s.lstm, *s.curves["jpeg"]]), timeout=60000)
    qtbot.waitUntil(lambda: "SSIMULACRA2" in window.plot.getPlotItem().titleLabel.text, timeout=10000)
    title = window.plot.getPlotItem().titleLabel.text
    assert ("MS-SSIM (dB)" in title or "undefined" in title) and "PSNR (dB)" in title and "trained for" in title
    assert ("disagree" in title) == (len({b > 0 for b in (s.bd_rate("jpeg"), s.bd_rate("jpeg", "psnr-rgb"),
                                                          s.bd_rate("jpeg", "ssimulacra2"))
                                          if b is not None and not np.isnan(b)}) > 1)


def test_a_metric_plugin_is_plotted_and_measured_in_the_background(metric_plugins, qtbot, window, photos):
    """A metric from a plugin is in the plot's menu; plotted, it is measured on every sample in
    the background (its cost is not declared: on request), and equals PSNR, which it is."""
    assert window.metric_box.findData("my-psnr") >= 0 and window.metric_box.findData("mean-error") >= 0
    window.open_paths([photos[0]])
    _wait_encoded(qtbot, window)
    s = window.state.current.session
    qtbot.waitUntil(lambda: "jpeg" in s.curves, timeout=60000)
    assert all("my-psnr" not in p.quality for p in s.samples())
    window.metric_box.setCurrentIndex(window.metric_box.findData("my-psnr"))
    qtbot.waitUntil(lambda: all("my-psnr" in p.quality for p in s.samples()), timeout=60000)
    assert all(p.quality["my-psnr"] == pytest.approx(p.quality["psnr-rgb"], abs=1e-9) for p in s.samples())
    qtbot.waitUntil(lambda: window.plot.lstm_curve.getData()[1] is not None
                    and len(window.plot.lstm_curve.getData()[1]) == len(s.lstm), timeout=10000)


@pytest.mark.slow
def test_dataset_window_tables_plot_exports_and_cache(qtbot, window, photos, tmp_path_factory, monkeypatch):
    import json as _json

    from codec.rd import dataset
    folder = photos[0].parent
    out = tmp_path_factory.mktemp("exports")  # not under the data set's folder
    w = window.open_dataset([folder])
    qtbot.waitUntil(lambda: not w.cancel_btn.isEnabled(), timeout=180000)
    assert w.status.text().startswith("Done: 2 of 2 images") and len(w.points) == 2
    s = w.summary
    assert set(s.curves) == {"lstm", *(k for k in window.state.classical_codecs if k != "jpeg444")}
    assert w.bd_table.rowCount() == len(s.curves) - 1  # every codec but the anchor
    interval = w.bd_table.columnCount() - 2  # computed off the GUI thread once every image is in
    cells = lambda: [w.bd_table.item(r, interval).text() for r in range(w.bd_table.rowCount())]  # noqa: E731
    qtbot.waitUntil(lambda: "computing…" not in cells(), timeout=60000)
    assert any("%" in c for c in cells())
    assert "(pchip)" in w.bd_table.horizontalHeaderItem(0).text()
    # the verdict in words, on a metric the model was not trained for too (measured by default)
    assert "ssimulacra2" in s.bd["lstm"] and "The LSTM was trained for" in w.verdict.text()
    assert "SSIMULACRA2" in w.verdict.text() and "PSNR (dB)" in w.verdict.text()
    w.method_box.setCurrentIndex(w.method_box.findData("akima"))
    assert "(akima)" in w.bd_table.horizontalHeaderItem(0).text() and w.summary.method == "akima"
    qtbot.waitUntil(lambda: "computing…" not in cells(), timeout=60000)
    w.method_box.setCurrentIndex(w.method_box.findData("pchip"))
    s = w.summary
    # a published curve of these images: drawn, tabled, and an anchor; another data set's is refused
    lstm = w.summary.curves["lstm"]
    mine = out / "mine.json"
    mine.write_text(_json.dumps({"name": "mine", "images": [p.name for p in photos],
                                 "results": {"bpp": [b * 1.25 for b in lstm["bpp"]], "ms-ssim": lstm["ms-ssim-rgb"]}}))
    assert w.add_published(mine).startswith("Added mine")
    assert any(w.bd_table.item(r, 0).text() == "mine (published)" for r in range(w.bd_table.rowCount()))
    w.anchor_box.setCurrentIndex(w.anchor_box.findData("published:mine"))
    assert w.summary.bd["lstm"]["ms-ssim-rgb-db"] == pytest.approx(-20.0, abs=0.01)
    elsewhere = out / "elsewhere.json"
    elsewhere.write_text(_json.dumps({"name": "elsewhere", "dataset": "kodak", "results": {"bpp": lstm["bpp"],
                                                                                        "ms-ssim": lstm["ms-ssim-rgb"]}}))
    assert "not on these 2 images" in w.add_published(elsewhere)
    w.anchor_box.setCurrentIndex(w.anchor_box.findData("jpeg"))
    assert w.image_table.rowCount() == 2
    bds = [w.image_table.item(r, 1).value for r in range(2)]
    assert bds == sorted(bds, reverse=True)  # worst first
    for ext in ("csv", "json"):
        w.export_tables(out / f"t.{ext}")
    doc = _json.loads((out / "t.json").read_text())
    assert doc["anchor"] == "jpeg" and {r["name"] for r in doc["results"]} >= {"JPEG 4:2:0", "WebP"}
    assert "lstm_bd_rate_percent_per_image" in doc and "bd_rate_vs_jpeg_ms-ssim-rgb-db" in (out / "t.csv").read_text()
    from gui.export import export_plot
    export_plot(w.plot, out / "p.png")
    assert (out / "p.png").stat().st_size > 0
    w.anchor_box.setCurrentIndex(w.anchor_box.findData("webp"))
    assert w.summary.anchor == "webp" and "jpeg" in w.summary.bd
    # a double-click on a row opens that image in the main window
    w.image_table.cellDoubleClicked.emit(0, 0)
    assert window.state.current is not None and window.state.current.name == w.image_table.item(0, 0).text()
    w.close()
    # reopened: everything comes from the cache, nothing is encoded again
    calls = []
    monkeypatch.setattr(dataset, "lstm_points", lambda *a, **k: calls.append(a) or ([], b""))
    w2 = window.open_dataset([folder])
    qtbot.waitUntil(lambda: not w2.cancel_btn.isEnabled(), timeout=60000)
    assert not calls and w2.summary.bd == s.bd
    w2.close()


@pytest.mark.slow
def test_dataset_window_draws_every_models_mean_curve(qtbot, window, photos):
    """Figure 5 over a data set: with every model's curve on, the window adds each shipped
    model's mean curve and its BD-rate row."""
    from codec.lstm.zoo import SHIPPED, display_name
    window.set_option("all_models", True)
    w = window.open_dataset([photos[0]])
    qtbot.waitUntil(lambda: not w.cancel_btn.isEnabled(), timeout=180000)
    keys = set(w.summary.curves)
    assert {"lstm:" + m.name for m in SHIPPED} <= keys
    rows = [w.bd_table.item(r, 0).text() for r in range(w.bd_table.rowCount())]
    assert all(f"LSTM {m.name}" in rows for m in SHIPPED)
    # the model in use is named as in the main window's legend, not left as a bare "LSTM"
    assert f"LSTM {display_name(window.model)} (in use)" in rows
    w.close()


@pytest.mark.slow
def test_dataset_window_measures_ssimulacra2_when_it_is_the_plotted_metric(qtbot, window, photos, tmp_path_factory):
    window.metric_box.setCurrentIndex(window.metric_box.findData("ssimulacra2"))
    w = window.open_dataset([photos[1]])
    qtbot.waitUntil(lambda: not w.cancel_btn.isEnabled(), timeout=180000)
    assert "ssimulacra2" in w.summary.curves["lstm"] and "ssimulacra2" in w.summary.bd["webp"]
    w.metric_box.setCurrentIndex(w.metric_box.findData("ssimulacra2"))
    assert "SSIMULACRA2" in w.image_table.horizontalHeaderItem(1).text()
    out = tmp_path_factory.mktemp("s2") / "t.csv"
    w.export_tables(out)
    assert "bd_rate_vs_jpeg_ssimulacra2" in out.read_text()
    w.close()


def test_figure5_also_draws_a_checkpoint_loaded_earlier(qtbot, window, photos, tiny_model):
    from codec.lstm.zoo import SHIPPED, shipped
    window.set_option("all_models", True)
    assert window.use_model(shipped("baseline").path)  # the tiny checkpoint is no longer in use
    names = {mid for mid, _, _ in window.state.plot_models()}
    assert tiny_model.model_id in names and shipped("baseline").model_id not in names
    assert len(names) == len(SHIPPED)  # the two other shipped models and the checkpoint
    window.set_option("all_models", False)


def test_the_dataset_windows_work_runs_on_the_apps_workers(qtbot, window, photos, monkeypatch):
    """No threads of its own: the LSTM curves on the app's LSTM worker, the classical curves on
    its classical worker through the codecs' child processes, as the main window's."""
    import threading

    from PySide6.QtCore import QThread

    from gui import dataset
    seen = []
    real = dataset.CLASSICAL_RUNNER

    class Recording:
        def map(self, fn, calls, should_stop=None):
            seen.append((QThread.currentThread().objectName(), fn.__name__, [c[2] for c in calls]))
            return real.map(fn, calls, should_stop)
    monkeypatch.setattr(dataset, "CLASSICAL_RUNNER", Recording())
    w = window.open_dataset([photos[0].parent])
    qtbot.waitUntil(lambda: not w.cancel_btn.isEnabled(), timeout=180000)
    assert "dataset" not in {t.name for t in threading.enumerate()}
    keys = [k for k in window.state.classical_codecs if k != "jpeg444"]
    assert seen and all(name == "classic-worker" and fn == "curve_points" and k == keys for name, fn, k in seen)
    assert set(w.summary.curves) >= {"lstm", *keys}
    w.close()


def test_closing_the_dataset_window_while_it_works_stops_it_quietly(qtbot, window, photos):
    w = window.open_dataset([photos[0].parent])
    finished = w.wait
    w.close()  # at once, mid-image
    qtbot.waitUntil(lambda: finished(0), timeout=60000)
    qtbot.wait(200)  # its last signals, if any, arrive at a deleted window: nothing may raise


def test_bits_view_says_when_an_iteration_is_stored_raw(qtbot):
    from gui.views import ComparisonViews
    v = ComparisonViews()
    qtbot.addWidget(v)
    v.set_original(np.zeros((32, 48, 3), np.uint8))
    v.set_mode("bits")
    v.set_block_maps((np.full((2, 3), 32.0), np.ones((2, 3))))
    assert "stored uncompressed" in v.p_bits.caption.text()
    assert v.p_bits.image.image.shape == (32, 48, 3)


def test_sessions_are_written_on_the_gui_thread_only(qtbot, window, photos, monkeypatch):
    """The scheduler's contract: workers compute, the GUI thread stores (no session is
    shared mutable data between threads)."""
    import threading

    import codec.rd.session as session_mod
    writers = set()

    class Recorded(dict):
        def __setitem__(self, key, value):
            writers.add(threading.current_thread().name)
            super().__setitem__(key, value)

    original_init, original_add = session_mod.ImageSession.__init__, session_mod.ImageSession.add_iteration

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.curves, self.matches, self.model_curves = Recorded(), Recorded(), Recorded()

    def add(self, *args):
        writers.add(threading.current_thread().name)
        original_add(self, *args)

    monkeypatch.setattr(session_mod.ImageSession, "__init__", init)
    monkeypatch.setattr(session_mod.ImageSession, "add_iteration", add)
    window.state.set_mode("bits")
    window.open_paths([photos[1]])
    qtbot.waitUntil(lambda: window.ready(curves=True), timeout=60000)
    assert writers == {threading.main_thread().name}


def test_a_view_switched_before_its_first_picture_still_fits_the_image(qtbot):
    """The difference panes have no picture until the first reconstruction: leaving that
    view then must fit the image, not keep the empty pane's meaningless range."""
    from gui.views import ComparisonViews
    v = ComparisonViews()
    qtbot.addWidget(v)
    v.resize(900, 500)
    v.show()
    v.set_mode("diff")
    v.set_original(np.zeros((73, 143, 3), np.uint8))
    v.set_mode("side")
    qtbot.waitUntil(lambda: v.current_view_box().viewRect().contains(QRectF(0.5, 0.5, 142, 72)), timeout=3000)


def test_the_verdicts_second_line_wraps_instead_of_running_off_the_plot():
    from gui.rdplot import _lines
    parts = ["trained for MS-SSIM", "SSIMULACRA2 -9.7% (the LSTM's curve ends at 54.4, JPEG's reaches 87.7)",
             "PSNR (dB) +43.4% (the LSTM's curve ends at 32.9, JPEG's reaches 41.3)", "the metrics disagree in sign"]
    lines = _lines(parts, width=120)
    assert len(lines) == 2 and all(len(line) <= 120 for line in lines)
    assert " · ".join(lines) == " · ".join(parts)  # nothing lost, the order kept
    assert _lines(["x" * 200]) == ["x" * 200]
