"""Open a large photo in the real window (offscreen) and report time and peak memory.

    /usr/bin/time -v python scripts/bench_large_app.py PHOTO [--model NAME]

Waits until the LSTM has encoded all its iterations and the JPEG match of the slider's
iteration is shown, then closes the window. A photo above 1 MP is compared on a region
(codec/imaging/region.py). Peak RSS of this process and of the classical codecs' child processes
comes from the kernel (ru_maxrss); /usr/bin/time reports the largest of them.
"""
import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    p = argparse.ArgumentParser()
    p.add_argument("photo")
    p.add_argument("--model", default=None)
    a = p.parse_args()
    import tempfile

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from codec.lstm.checkpoint import load_model
    from codec.lstm.zoo import resolve_model
    from gui.window import MainWindow
    app = QApplication([])
    win = MainWindow(load_model(resolve_model(a.model)),
                     QSettings(str(Path(tempfile.mkdtemp()) / "b.ini"), QSettings.IniFormat))
    win.resize(1500, 900)
    win.show()
    print(f"window open: RSS {rss_mb():.0f} MB", flush=True)
    t0 = time.perf_counter()
    win.open_paths([a.photo])
    marks = {}
    while True:
        app.processEvents()
        e = win.state.current
        s = e.session if e is not None else None
        if e is not None and e.error:
            sys.exit(e.error)
        if s is not None and "loaded" not in marks:
            marks["loaded"] = time.perf_counter() - t0
            print(f"opened in {marks['loaded']:.1f} s: {'; '.join(s.notes) or f'{s.width}x{s.height}'}; "
                  f"RSS {rss_mb():.0f} MB, peak so far {peak_mb():.0f} MB", flush=True)
        if s is not None and s.lstm and "first" not in marks:
            marks["first"] = time.perf_counter() - t0
            print(f"first iteration shown after {marks['first']:.1f} s; RSS {rss_mb():.0f} MB, "
                  f"peak so far {peak_mb():.0f} MB", flush=True)
        if s is not None and s.lstm_complete and (win.state.classical, win.state.iteration) in s.matches:
            break
        time.sleep(0.01)
    print(f"all {len(s.lstm)} iterations and the {win.state.classical} match after {time.perf_counter() - t0:.1f} s")
    win.close()
    app.processEvents()
    print(f"peak RSS: this process {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
