"""Entry point: `python main.py [PHOTO ...] [--model M] [--iterations K --export OUT.png]`."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from codec.base.paths import SAMPLES_DIR
from codec.base.pipes import closed_output
from codec.lstm.zoo import model_help  # light: paths only, no torch

SAMPLE = SAMPLES_DIR / "coffee.png"


def parse_args(argv):
    from codec.classical import CODECS
    from codec.quality import registry

    from .state import MODES
    p = argparse.ArgumentParser(prog="lstm-compare", description="Compare a progressive LSTM image codec with "
                                "JPEG, WebP, JPEG 2000, AVIF, HEIC and JPEG XL. With no PHOTO, opens the built-in sample.")
    p.add_argument("photos", nargs="*", help="images or folders to open")
    p.add_argument("--model", help=model_help())
    p.add_argument("--iterations", "-k", type=int, help="start at this many iterations")
    p.add_argument("--codec", choices=list(CODECS), help="classical codec")
    p.add_argument("--mode", choices=MODES, help="view mode")
    p.add_argument("--all-models", action="store_true", help="plot every shipped model's curve too (Figure 5)")
    p.add_argument("--metric", choices=list(registry.scales()), help="the RD plot's quality axis")
    p.add_argument("--export", metavar="OUT.png", help="render the comparison of the first PHOTO to OUT.png "
                   "without showing a window, then exit")
    p.add_argument("--force", action="store_true", help="with --export: overwrite OUT.png if it exists")
    p.add_argument("--timeout", type=float, default=900, help="with --export: give up after this many seconds")
    p.add_argument("--study", metavar="DIR", help="take part in the study in DIR as an observer (Study > New "
                   "study… makes one); continues where you stopped")
    p.add_argument("--observer", metavar="NAME", help="with --study: your name (asked for if not given)")
    return p.parse_args(argv)


def _run_study(args) -> int:
    """An observer's session: the study's window alone, no model, no codecs."""
    from PySide6.QtWidgets import QApplication, QInputDialog

    from codec.base.errors import CodecError
    from codec.study.folder import Study, check_observer

    from .study import StudyWindow
    try:
        study = Study.open(args.study)
    except CodecError as e:
        return _fail(str(e))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("lstm-compare")
    observer = args.observer
    if not observer:
        observer, ok = QInputDialog.getText(None, "lstm-compare study", "Your name (letters, digits, '-', '_'):")
        if not ok:
            return 0
    try:
        check_observer(observer)
    except CodecError as e:
        return _fail(str(e))
    win = StudyWindow(study, observer)
    win.showMaximized()
    return app.exec()


def apply_dark_theme(app) -> None:
    """A dark Fusion palette: images are judged best on a neutral dark surround."""
    from PySide6.QtGui import QColor, QPalette
    app.setStyle("Fusion")
    pal = QPalette()
    base, window, text = QColor(37, 37, 38), QColor(45, 45, 48), QColor(220, 220, 220)
    for role, color in ((QPalette.Window, window), (QPalette.WindowText, text), (QPalette.Base, base),
                        (QPalette.AlternateBase, window), (QPalette.ToolTipBase, QColor(60, 60, 60)),
                        (QPalette.ToolTipText, text), (QPalette.Text, text), (QPalette.Button, window),
                        (QPalette.ButtonText, text), (QPalette.BrightText, QColor(255, 80, 80)),
                        (QPalette.Highlight, QColor(42, 130, 218)), (QPalette.HighlightedText, QColor(255, 255, 255)),
                        (QPalette.PlaceholderText, QColor(140, 140, 140))):
        pal.setColor(role, color)
    for role in (QPalette.Text, QPalette.ButtonText, QPalette.WindowText):
        pal.setColor(QPalette.Disabled, role, QColor(120, 120, 120))
    app.setPalette(pal)


def _fail(msg: str) -> int:
    print(f"lstm-compare: error: {msg}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    from .spawned import exit_if_spawned_child
    exit_if_spawned_child()  # before the seconds of start-up a child would spend for nothing
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        status = _run(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return status
    except BrokenPipeError:
        return closed_output()
    except KeyboardInterrupt:  # Ctrl+C during a headless export: the export is written whole or not at all
        print("lstm-compare: interrupted.", file=sys.stderr)
        return 130


def _run(args) -> int:
    if args.study:
        return _run_study(args)
    if args.export:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        out = Path(args.export)
        if out.exists() and not args.force:
            return _fail(f"{out} already exists; choose another name or pass --force to overwrite it.")
        if not out.parent.is_dir():
            return _fail(f"the folder {out.parent} does not exist; create it first.")
    else:
        quit_requested = _remember_quit_signals()  # start-up takes seconds: Ctrl+C meanwhile still quits cleanly

    import pyqtgraph as pg
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication, QMessageBox

    from codec.lstm.checkpoint import load_model
    from codec.base.errors import CodecError
    from codec.lstm.zoo import resolve_model

    from .window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("lstm-compare")
    app.setOrganizationName("lstm-compare")
    pg.setConfigOptions(imageAxisOrder="row-major")
    apply_dark_theme(app)

    model, model_error = None, ""
    try:
        model = load_model(resolve_model(args.model))
    except CodecError as e:
        model_error = str(e)
    if args.export and model is None:
        return _fail(model_error)

    settings = None
    if args.export:  # a scripted run must not change the user's saved window state
        settings = QSettings(str(Path(tempfile.mkdtemp()) / "export.ini"), QSettings.IniFormat)
    win = MainWindow(model, settings)
    st = win.state
    if args.codec:
        if args.codec not in st.classical_codecs:
            from codec.classical import CODECS
            win.close()
            return _fail(f"{CODECS[args.codec].label} is not available here (its Pillow plugin is missing); "
                         f"pick one of {', '.join(st.classical_codecs)}.")
        st.set_classical(args.codec)
    if args.mode:
        st.set_mode(args.mode)
    if args.all_models:
        win.set_option("all_models", True)
    if args.metric:
        st.set_metric(args.metric)
    if args.iterations:
        st.set_iteration(args.iterations)

    photos = args.photos or [str(SAMPLE)]
    if args.export:
        return _export_headless(app, win, photos[0], Path(args.export), args.timeout)

    win.show()
    _close_on_signals(app, win, quit_requested)
    win.scheduler.warm_up()  # after the handlers: a signal meanwhile still closes the app cleanly
    if model is None:
        QMessageBox.warning(win, "No model", f"{model_error}\n\nUse the Model menu to pick a shipped model or load a checkpoint.")
    else:
        win.open_paths(photos)
    return app.exec()


def _export_headless(app, win, photo: str, out: Path, timeout: float) -> int:
    from PySide6.QtCore import Qt
    win.setAttribute(Qt.WA_DontShowOnScreen, True)
    win.resize(1600, 900)
    win.show()
    entries = win.open_paths([photo])
    entry = entries[0] if entries else win.state.current
    if entry is None:
        return _fail(f"{photo} could not be opened.")
    k = win.state.iteration
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()
        if entry.error:
            win.close()
            return _fail(entry.error)
        if win.ready(k, curves=True):
            break
        time.sleep(0.01)
    else:
        win.close()
        return _fail(f"the comparison was not ready within {timeout:.0f} s.")
    for _ in range(5):  # let the views lay out and repaint with the final images
        app.processEvents()
    ok = win.export_comparison(out)
    msg = win.statusBar().currentMessage()
    win.close()
    if not ok:
        return _fail(msg)
    print(f"{out}: {msg}")
    return 0


def _remember_quit_signals() -> list:
    """Until the window exists, SIGINT and SIGTERM are only noted (`_close_on_signals` acts on
    them): a Ctrl+C during start-up must not end in a KeyboardInterrupt half-way through it."""
    import signal
    requested = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: requested.append(True))
    return requested


def _close_on_signals(app, win, requested: list) -> None:
    """Ctrl+C in the terminal and SIGTERM close the window as File > Quit does (settings
    saved, workers and the codecs' child process stopped), instead of Ctrl+C waiting for the
    next Qt event and SIGTERM killing the app with its child process's semaphores leaked.
    The close is queued for the event loop: a signal that comes before `app.exec()` starts
    (or came during start-up, in `requested`) must still end it."""
    import signal

    from PySide6.QtCore import QTimer

    from shiboken6 import isValid

    def close():
        if isValid(win):  # a second Ctrl+C may come after the window has deleted itself
            win.close()

    def close_soon(*_):
        QTimer.singleShot(0, app, close)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, close_soon)
    if requested:
        close_soon()
    # Python runs signal handlers only between bytecodes; while Qt's loop waits in C++ none
    # run, so a timer wakes the interpreter four times a second.
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(250)
