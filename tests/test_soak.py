"""The app under abuse (offscreen, tiny model): 30 images, 100 quick switches, cancels and
re-encodes, model, encoder and classical codec changed mid-encode, exports while encoding,
then the window closed with work running. Nothing may raise, no worker thread or child
process may be left, and memory must come back after the images are closed (the RSS
figures are printed: `pytest -s tests/test_soak.py`)."""
from __future__ import annotations

import gc
import multiprocessing
import random
import threading
import time
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")
from PySide6.QtCore import QSettings  # noqa: E402

from gui.window import MainWindow  # noqa: E402
from codec.base.runtime import release_free_memory  # noqa: E402
from gui.worker import CLASSICAL_RUNNER  # noqa: E402

pytestmark = pytest.mark.slow
IMAGES = 30
SWITCHES = 100


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * 4096 / 2**20


def _released() -> float:
    """RSS once freed memory is handed back (the codec's allocator tuning keeps up to 512 MB
    of freed memory for reuse on purpose: that is not a leak)."""
    gc.collect()
    release_free_memory()
    return rss_mb()


@pytest.fixture
def photos(tmp_path, sample_pixels):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(IMAGES):
        h, w = int(rng.integers(48, 201)), int(rng.integers(48, 257))
        y, x = int(rng.integers(0, sample_pixels.shape[0] - h)), int(rng.integers(0, sample_pixels.shape[1] - w))
        p = tmp_path / f"img{i:02d}.png"
        Image.fromarray(sample_pixels[y:y + h, x:x + w]).save(p)
        paths.append(p)
    return paths


def test_the_app_survives_abuse_and_leaves_nothing_behind(qtbot, tiny_model, tiny_model_path, photos, tmp_path):
    """Three rounds: the first ones also map in what each path needs once (torch's kernels
    for 30 image sizes, refinement's autograd, a second model, Qt's and pyqtgraph's
    buffers; which round does it depends on timing); the last must give back what it takes."""
    start = _released()
    rounds = [_abuse(qtbot, tiny_model, tiny_model_path, photos, tmp_path) for _ in range(3)]
    print(f"\nsoak: RSS {start:.0f} MB at the start", *(f"round {i + 1}: {r}" for i, r in enumerate(rounds)), sep="\n")
    last = rounds[-1]
    assert last.after - last.before < 40, f"{last.after - last.before:.0f} MB not given back"


@dataclass
class RSS:
    before: float  # MB, once freed memory is handed back
    open: float    # with the images open
    closed: float  # with them closed, the window still open
    after: float   # with the window closed

    def __str__(self):
        return (f"{self.before:.0f} MB before, {self.open:.0f} with {IMAGES} images open, {self.closed:.0f} with "
                f"them closed, {self.after:.0f} after closing the window")


def _abuse(qtbot, tiny_model, tiny_model_path, photos, tmp_path) -> RSS:
    threads_before = set(threading.enumerate())
    rss_before = _released()
    w = MainWindow(tiny_model, QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    w.resize(1200, 800)
    w.show()
    failures = []
    w.scheduler.failed.connect(lambda what, message: failures.append(f"{what}: {message}"))
    assert len(w.open_paths(photos)) == IMAGES
    rng = random.Random(0)
    for i in range(SWITCHES):
        w.list.setCurrentRow(rng.randrange(IMAGES))
        qtbot.wait(rng.choice([0, 2, 10, 40]))
        if i % 7 == 3:
            w.cancel()
        if i % 9 == 4:
            w.reencode()
        if i % 11 == 5:
            w.codec_box.setCurrentIndex(rng.randrange(w.codec_box.count()))
        if i % 13 == 6:
            w.slider.setValue(rng.randint(1, w.slider.maximum()))
        if i % 17 == 7:
            w.set_option("entropy", not w.state.entropy)
        if i % 29 == 8:
            assert w.use_model(tiny_model_path)
        if i % 19 == 9:
            w.export_comparison(tmp_path / f"export{i}.png")  # may say "still being computed"
        if i == 50:
            w.state.set_encoder("thorough")
        if i == 56:
            w.state.set_encoder("fast")
    # it still works: the image last chosen encodes completely and its JPEG match appears
    w.reencode()
    qtbot.waitUntil(lambda: bool(w.state.current.session and w.state.current.session.lstm_complete), timeout=60000)
    w.slider.setValue(2)
    qtbot.waitUntil(lambda: (w.state.classical, 2) in w.state.current.session.matches, timeout=60000)
    assert w.export_comparison(tmp_path / "final.png") and (tmp_path / "final.png").stat().st_size > 0
    rss_open = _released()
    w.close_image()
    assert len(w.state.entries) == IMAGES - 1 and w.state.current is not None
    w.close_all_images()
    assert not w.state.entries and w.state.current is None and w.list.count() == 0
    rss_closed = _released()
    w.open_paths(photos[:3])
    w.reencode()  # close the window with work running
    w.close()
    assert w.scheduler.workers.lstm.isFinished() and w.scheduler.workers.classic.isFinished()
    assert not failures, failures
    CLASSICAL_RUNNER.shutdown()
    deadline = time.monotonic() + 15
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not multiprocessing.active_children(), "child processes left behind"
    left = [t for t in set(threading.enumerate()) - threads_before if t.is_alive() and not t.daemon]
    assert not left, f"threads left behind: {left}"
    return RSS(rss_before, rss_open, rss_closed, _released())
