"""Ctrl+C / SIGTERM close the app as File > Quit does: exit status 0, its child process gone."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _children(pid: int) -> list[int]:
    """Child processes of every thread of pid (the codecs' child is started by a worker thread)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to see the app's child process")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_closes_the_app_cleanly(tmp_path, sig):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path))
    app = subprocess.Popen([sys.executable, str(ROOT / "main.py")], cwd=tmp_path, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the codecs' child process starts once the sample is open: by then the handlers are in
        deadline = time.monotonic() + 120
        while not _children(app.pid) and app.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert app.poll() is None and _children(app.pid), "the app did not start its codec child process"
        children = _children(app.pid)
        app.send_signal(sig)
        _, err = app.communicate(timeout=30)
    finally:
        if app.poll() is None:
            app.kill()
    assert app.returncode == 0, err
    assert "leaked" not in err and "Traceback" not in err, err
    deadline = time.monotonic() + 10  # children follow within seconds (the pool's shutdown, or the watchdog)
    while not all(map(_gone, children)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(map(_gone, children)), "a child process outlived the app"
