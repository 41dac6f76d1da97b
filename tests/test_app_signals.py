"""Ctrl+C / SIGTERM close the app as File > Quit does: exit status 0, its child process gone."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _launch(tmp_path, script=None) -> subprocess.Popen:
    """The app on its built-in sample, headless, with its settings kept in tmp_path, in a
    process group of its own (as a terminal starts it); `script`: run that file instead of main.py."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path),
               PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, str(script or ROOT / "main.py")], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


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
    """The codecs' child processes (not multiprocessing's resource tracker, nor e.g. the
    `ldconfig` that ctypes runs at start-up)."""
    out = []
    for c in _children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes():
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


def _signal_cleanly(app: subprocess.Popen, sig: int, when, wait_s: float, exit_s: float,
                    group: bool = False) -> str:
    """Send sig as soon as when() is true (group: to the app's whole process group, as a
    terminal's Ctrl+C does); the app must then exit with 0, no traceback, nothing leaked.
    Returns what it printed on stderr."""
    try:
        deadline = time.monotonic() + wait_s
        while app.poll() is None and not when() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert app.poll() is None and when(), "the app ended, or never got ready for the signal"
        if group:
            os.killpg(app.pid, sig)
        else:
            app.send_signal(sig)
        _, err = app.communicate(timeout=exit_s)
    finally:
        if app.poll() is None:
            app.kill()
    assert app.returncode == 0, err
    assert "leaked" not in err and "Traceback" not in err, err
    return err


def _cpu_seconds(pids: list[int]) -> float:
    """CPU time these processes have used (user + system, from /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to see the app's child process")
@pytest.mark.parametrize("sig,group", [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGINT, True)],
                         ids=["SIGTERM", "SIGINT", "Ctrl+C in a terminal"])
def test_signal_closes_the_app_cleanly(tmp_path, sig, group):
    """Ctrl+C in a terminal reaches the children too, while they encode the sample's curves:
    they must leave the ending to the app, not hand it a KeyboardInterrupt."""
    app = _launch(tmp_path)
    children = []

    def codecs_at_work():  # the codecs' child processes start once the window is up, then work
        children[:] = _codec_children(app.pid) and _children(app.pid)
        codecs = _codec_children(app.pid)
        # past its start-up (about 1.5 s of CPU), a child is at the sample's curves
        return bool(children) and (not group or (bool(codecs) and min(_cpu_seconds([c]) for c in codecs) > 2.5))

    _signal_cleanly(app, sig, when=codecs_at_work, wait_s=120, exit_s=30, group=group)
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


UNGUARDED = """import sys
from gui.app import main
sys.exit(main())
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to see the app's children")
def test_a_script_without_a_main_guard_gets_one_window_and_a_sentence(tmp_path):
    """spawn re-runs the starting script in each child: without `if __name__ == "__main__":`
    the children used to open windows of their own and never serve the codecs. They now end
    at once with a sentence that says what to add, and the app codes in its own process."""
    script = tmp_path / "start.py"
    script.write_text(UNGUARDED)
    app = _launch(tmp_path, script)
    gave_up = []

    def codecs_in_process():  # both children ended and were not started again
        gave_up.append(not _codec_children(app.pid) and _cpu_seconds([app.pid]) > 10)
        return gave_up[-1]

    err = _signal_cleanly(app, signal.SIGTERM, when=codecs_in_process, wait_s=120, exit_s=30)
    assert 'needs `if __name__ == "__main__":`' in err and "run in the app's own process" in err
