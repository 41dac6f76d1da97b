"""Ctrl+C / SIGTERM close the app as File > Quit does: exit status 0, its child process gone."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _launch(tmp_path) -> subprocess.Popen:
    """The app on its built-in sample, headless, with its settings kept in tmp_path."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path))
    return subprocess.Popen([sys.executable, str(ROOT / "main.py")], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _children(pid: int) -> list[int]:
    """Child processes of every thread of pid (the codecs' child is started by a worker thread)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _codec_children(pid: int) -> list[int]:
    """The children that are Python processes (not e.g. the `ldconfig` that ctypes runs at start-up)."""
    out = []
    for c in _children(pid):
        try:
            if b"multiprocessing" in Path(f"/proc/{c}/cmdline").read_bytes():
                out.append(c)
        except OSError:
            pass
    return out


def _catches(pid: int, sig: int) -> bool:
    """Whether pid has a handler for sig (its SigCgt mask in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    return False


def _signal_cleanly(app: subprocess.Popen, sig: int, when, wait_s: float, exit_s: float) -> None:
    """Send sig as soon as when() is true; the app must then exit with 0, no traceback, nothing leaked."""
    try:
        deadline = time.monotonic() + wait_s
        while app.poll() is None and not when() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert app.poll() is None and when(), "the app ended, or never got ready for the signal"
        app.send_signal(sig)
        _, err = app.communicate(timeout=exit_s)
    finally:
        if app.poll() is None:
            app.kill()
    assert app.returncode == 0, err
    assert "leaked" not in err and "Traceback" not in err, err


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to see the app's child process")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_closes_the_app_cleanly(tmp_path, sig):
    app = _launch(tmp_path)
    children = []

    def codecs_started():  # the codecs' child processes start once the window is up
        children[:] = _codec_children(app.pid) and _children(app.pid)
        return bool(children)

    _signal_cleanly(app, sig, when=codecs_started, wait_s=120, exit_s=30)
    deadline = time.monotonic() + 10  # children follow within seconds (the pool's shutdown, or the watchdog)
    while not all(map(_gone, children)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(map(_gone, children)), "a child process outlived the app"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc to see the app's signal handlers")
def test_signal_during_start_up_closes_the_app_cleanly(tmp_path):
    """SIGTERM as soon as the app handles it (seconds before the window exists) still ends
    it as File > Quit does, not in a KeyboardInterrupt or a kill half-way through start-up."""
    app = _launch(tmp_path)
    _signal_cleanly(app, signal.SIGTERM, when=lambda: _catches(app.pid, signal.SIGTERM), wait_s=60, exit_s=120)
