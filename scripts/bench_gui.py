"""GUI latency: time to the first LSTM reconstruction on screen, and cached slider redraws.

    python scripts/bench_gui.py [IMAGE] [--model PATH] [--encoder fast|quick|thorough]

Runs the real window offscreen (QT_QPA_PLATFORM=offscreen unless a display is set).
Stop other CPU work first (a training run: `kill -STOP PID`, then `kill -CONT PID`, with
the PID of the Python process itself): on 2 cores it doubles every figure.
Each window is shown and left until it is idle (its classical codecs' child processes
started, as main.py starts them while the user picks a file); then the image is opened.
The image is opened twice, each time in a new window: first with an empty classical cache
(a temporary folder), then again with the cache the first opening filled (what a user sees
reopening a photo). "everything the window shows in place" = all 16 iterations, the JPEG
match for each, every classical codec's curve to the plot's edge and the headline's verdict
metrics (SSIMULACRA2 included) on the LSTM's and JPEG's curves; the CPU seconds it took (the
app and its child processes) divided by the cores is the floor any schedule of the same work
meets. The curves' points beyond the plot's edge come after that, and are timed apart.
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


GC_DURING = []  # (generation, seconds) of the garbage collections inside a timed move
_GC_START = [0.0]


def _gc_probe(phase, info):
    if phase == "start":
        _GC_START[0] = time.perf_counter()
    elif TIMING[0]:
        GC_DURING.append((info["generation"], time.perf_counter() - _GC_START[0]))


TIMING = [False]


def cpu_seconds() -> tuple[float, float]:
    """(this process's CPU seconds, its child processes' (live ones, from /proc)): the work
    an opening costs, whatever the schedule."""
    own = os.times()
    tick, children = os.sysconf("SC_CLK_TCK"), 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[1]) == os.getpid():  # ppid
            children += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return own.user + own.system, children


def timed_move(app, win, k):
    pause(app)
    TIMING[0] = True
    t = time.perf_counter()
    win.slider.setValue(k)
    app.processEvents()
    dt = time.perf_counter() - t
    TIMING[0] = False
    return dt


def verdict_measured(s) -> bool:
    """Whether the headline's verdict metrics (codec/rd/verdict.py) are measured on the LSTM's
    curve and JPEG's on the plot, as the window shows them once they are."""
    from codec.quality import registry
    from codec.rd.verdict import VERDICT_SCALES
    ids = {registry.scale(v).metric.id for v in VERDICT_SCALES}
    jpeg = [p for p in s.curves.get("jpeg", []) if p.bpp <= s.plotted_bpp()]
    return all(not p.missing(ids) for p in [*s.lstm, *jpeg])


def report(label, times):
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    over = sum(t > 1000 / 60 for t in ms)
    print(f"{label}, {len(ms)} moves: mean {statistics.mean(ms):.1f} ms, p95 {p95:.1f}, max {ms[-1]:.1f}; "
          f"{over} over a 60 Hz frame (16.7 ms)")


def main():
    import argparse
    import gc
    gc.callbacks.append(_gc_probe)
    p = argparse.ArgumentParser()
    p.add_argument("image", nargs="?", default=str(ROOT.parent / "shared/data/kodak/kodim23.png"))
    p.add_argument("--model", default=None, help="a shipped model's name or a checkpoint; default: the default model")
    p.add_argument("--encoder", default=None, help="the LSTM's encoder (codec/lstm/encoders.py); default: the default one")
    a = p.parse_args()
    if not Path(a.image).exists():
        a.image = str(ROOT / "resources/samples/coffee.png")
    import tempfile

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from codec.lstm.checkpoint import load_model
    from codec.lstm.zoo import resolve_model
    from gui.app import apply_dark_theme
    from gui.window import MainWindow
    os.environ["LSTM_COMPARE_CACHE"] = tempfile.mkdtemp(prefix="bench-gui-cache-")
    app = QApplication([])
    apply_dark_theme(app)
    model = load_model(resolve_model(a.model))
    win = None
    for opening in ("first opening (empty cache)", "second opening (cached classical codecs)"):
        if win is not None:
            win.close()
            app.processEvents()
        win = MainWindow(model, QSettings(str(Path(tempfile.mkdtemp()) / "b.ini"), QSettings.IniFormat))
        if a.encoder:
            win.state.set_encoder(a.encoder)
        win.resize(1500, 900)
        win.show()
        win.scheduler.warm_up()  # as main.py does
        while win.scheduler.busy():  # started and idle (its child processes ready): a user picking a file
            app.processEvents()
            time.sleep(0.01)
        threads = (win.scheduler.workers.lstm, win.scheduler.workers.classic)
        for thread in threads:
            thread.spent.clear()
        t0, cpu0 = time.perf_counter(), cpu_seconds()
        win.open_paths([a.image])
        while win.views.lstm is None:
            app.processEvents()
            time.sleep(0.001)
        app.processEvents()
        first = time.perf_counter() - t0
        s = win.state.current.session
        print(f"{opening}: {Path(a.image).name} {s.width}x{s.height}: first LSTM reconstruction on screen "
              f"after {first * 1000:.0f} ms")
        matched = shown = None
        codecs = win.state.classical_codecs
        while True:
            done_matches = s.lstm_complete and all(("jpeg", k) in s.matches for k in range(1, 17))
            if done_matches and matched is None:
                matched = time.perf_counter() - t0
            if shown is None and done_matches and set(codecs) <= set(s.curves) and verdict_measured(s):
                shown, cpu_shown = time.perf_counter() - t0, cpu_seconds()
                spent = [dict(t.spent) for t in threads]
            if shown is not None and all(s.curve_is_whole(c) for c in codecs if c not in s.failures):
                break
            app.processEvents()
            time.sleep(0.005)
        wall, cpu1 = time.perf_counter() - t0, cpu_seconds()
        cores = os.cpu_count() or 1
        print(f"  all 16 iterations and JPEG matches after {matched:.1f} s; everything the window shows in place "
              f"({len(codecs)} classical curves to the plot's edge, the headline's three metrics) after "
              f"{shown:.1f} s (target 10 s); the curves' points beyond the plot after {wall:.1f} s")
        for label, (c0, c1) in (("until everything shown", (cpu0, cpu_shown)), ("in all", (cpu0, cpu1))):
            own, children = c1[0] - c0[0], c1[1] - c0[1]
            print(f"  work {label}: {own + children:.1f} CPU seconds (the app {own:.1f}, the classical codecs' child "
                  f"processes {children:.1f}): on {cores} cores no schedule finishes it before "
                  f"{(own + children) / cores:.1f} s")
        for name, jobs in zip(("LSTM", "classical"), spent):
            kinds: dict[str, float] = {}
            for what, seconds in jobs.items():
                kind = what.split(" kodim")[0].split(" coffee")[0]
                kinds[kind] = kinds.get(kind, 0.0) + seconds
            print(f"  the {name} worker thread's time until everything shown, by job: " + ", ".join(
                f"{k} {v:.1f} s" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]) if v >= 0.05))
    sweep = list(range(1, 17)) + list(range(16, 0, -1))
    report("slider redraw, side by side (cached)", [timed_move(app, win, k) for k in sweep * 3])
    win.state.set_mode("split")
    report("slider redraw, split view", [timed_move(app, win, k) for k in sweep * 3])
    win.state.set_mode("diff")
    report("slider redraw, diff view (first visits: error maps computed)", [timed_move(app, win, k) for k in range(1, 17)])
    win.slider.setValue(16)
    app.processEvents()
    report("slider redraw, diff view (revisits: error maps cached)", [timed_move(app, win, k) for k in sweep * 3])
    longest = max((t for _, t in GC_DURING), default=0.0)
    print(f"garbage collections inside timed moves: {len(GC_DURING)} (generations "
          f"{sorted({g for g, _ in GC_DURING})}, the longest {longest * 1000:.1f} ms)")
    win.close()


if __name__ == "__main__":
    main()
