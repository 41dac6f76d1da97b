"""GUI latency: time to the first LSTM reconstruction on screen, and cached slider redraws.

    python scripts/bench_gui.py [IMAGE] [--model PATH]

Runs the real window offscreen (QT_QPA_PLATFORM=offscreen unless a display is set).
"first reconstruction" = from open_paths() until the LSTM pane holds iteration 1's image
and the event loop has painted it. "slider redraw" = slider.setValue(k) plus one pass of
the event loop (repaint), for cached iterations and matches; moves come 50 ms apart (a fast
drag, 20 steps a second) and the event loop runs in between, as it would for a user, so
idle-time work (the difference view's neighbour prefetch) happens where it would.
"""
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pause(app, seconds=0.05):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)


def main():
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("image", nargs="?", default=str(ROOT.parent / "shared/data/kodak/kodim23.png"))
    p.add_argument("--model", default=None, help="a shipped model's name or a checkpoint; default: the default model")
    a = p.parse_args()
    if not Path(a.image).exists():
        a.image = str(ROOT / "resources/samples/coffee.png")
    import tempfile

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from codec.checkpoint import load_model
    from codec.zoo import resolve_model
    from gui.app import apply_dark_theme
    from gui.window import MainWindow
    app = QApplication([])
    apply_dark_theme(app)
    win = MainWindow(load_model(resolve_model(a.model)),
                     QSettings(str(Path(tempfile.mkdtemp()) / "b.ini"), QSettings.IniFormat))
    win.resize(1500, 900)
    win.show()
    app.processEvents()
    t0 = time.perf_counter()
    win.open_paths([a.image])
    while win.views.lstm is None:
        app.processEvents()
        time.sleep(0.001)
    app.processEvents()
    first = time.perf_counter() - t0
    s = win.current.session
    print(f"{Path(a.image).name} {s.width}x{s.height}: first LSTM reconstruction on screen after {first * 1000:.0f} ms")
    while not (s.lstm_complete and all(("jpeg", k) in s.matches for k in range(1, 17))):
        app.processEvents()
        time.sleep(0.005)
    print(f"all 16 iterations and JPEG matches after {time.perf_counter() - t0:.1f} s")
    times = []
    for k in list(range(1, 17)) + list(range(16, 0, -1)):
        pause(app)
        t = time.perf_counter()
        win.slider.setValue(k)
        app.processEvents()
        times.append(time.perf_counter() - t)
    print(f"slider redraw (cached), {len(times)} moves: mean {statistics.mean(times) * 1000:.1f} ms, "
          f"max {max(times) * 1000:.1f} ms (a frame at 60 Hz is 16.7 ms)")
    for mode, visit in (("split", ""), ("diff", " (first visits: error maps computed)"),
                        ("diff", " (revisits: error maps cached)")):
        win.set_mode(mode)
        times = []
        for k in range(1, 17):
            pause(app)
            t = time.perf_counter()
            win.slider.setValue(k)
            app.processEvents()
            times.append(time.perf_counter() - t)
        print(f"slider redraw in {mode} view{visit}: mean {statistics.mean(times) * 1000:.1f} ms, "
              f"max {max(times) * 1000:.1f} ms")
        if mode == "diff":
            win.slider.setValue(16)
            app.processEvents()
    win.close()


if __name__ == "__main__":
    main()
